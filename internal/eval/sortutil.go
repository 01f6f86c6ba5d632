package eval

import "slices"

func sortSlice[T any](l []T, less func(a, b T) bool) {
	slices.SortFunc(l, func(a, b T) int {
		if less(a, b) {
			return -1
		}
		if less(b, a) {
			return 1
		}
		return 0
	})
}

// stableSort sorts l with less exactly as libstdc++'s std::stable_sort
// (which Nix's builtins.sort uses) does when it gets its temporary buffer:
// the same comparisons in the same order, so even an inconsistent
// comparator gives Nix's result, and about n·log2(n) comparator calls.
func stableSort[T any](l []T, less func(a, b T) bool) {
	n := len(l)
	if n < 2 {
		return
	}
	buf := make([]T, (n+1)/2)
	half := (n + 1) / 2
	mergeSortWithBuffer(l[:half], buf, less)
	mergeSortWithBuffer(l[half:], buf, less)
	len1, len2 := half, n-half
	if len1 <= len2 {
		// forward merge of buf(copy of first half) and second half into l
		copy(buf, l[:half])
		moveMerge(buf[:len1], l[half:], l, less)
	} else {
		copy(buf, l[half:])
		mergeBackward(l, len1, buf[:len2], less)
	}
}

const stableSortChunk = 7

func insertionSort[T any](l []T, less func(a, b T) bool) {
	for i := 1; i < len(l); i++ {
		v := l[i]
		if less(v, l[0]) {
			copy(l[1:i+1], l[:i])
			l[0] = v
			continue
		}
		j := i
		for less(v, l[j-1]) {
			l[j] = l[j-1]
			j--
		}
		l[j] = v
	}
}

func mergeSortWithBuffer[T any](l, buf []T, less func(a, b T) bool) {
	n := len(l)
	i := 0
	for ; n-i >= stableSortChunk; i += stableSortChunk {
		insertionSort(l[i:i+stableSortChunk], less)
	}
	insertionSort(l[i:], less)
	buf = buf[:n]
	for step := stableSortChunk; step < n; {
		mergeSortLoop(l, buf, step, less)
		step *= 2
		mergeSortLoop(buf, l, step, less)
		step *= 2
	}
}

// mergeSortLoop merges runs of length step from src into dst.
func mergeSortLoop[T any](src, dst []T, step int, less func(a, b T) bool) {
	two := 2 * step
	i := 0
	for ; len(src)-i >= two; i += two {
		moveMerge(src[i:i+step], src[i+step:i+two], dst[i:i+two], less)
	}
	s := min(len(src)-i, step)
	moveMerge(src[i:i+s], src[i+s:], dst[i:], less)
}

// moveMerge merges a and b into out (len(out) >= len(a)+len(b)); out may
// alias the tail of the memory b lives in (never overtaking it).
func moveMerge[T any](a, b, out []T, less func(a, b T) bool) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if less(b[j], a[i]) {
			out[k] = b[j]
			j++
		} else {
			out[k] = a[i]
			i++
		}
		k++
	}
	k += copy(out[k:], a[i:])
	copy(out[k:], b[j:])
}

// mergeBackward merges l[:len1] and b (a copy of l's tail) into l from the
// back, as __move_merge_adaptive_backward.
func mergeBackward[T any](l []T, len1 int, b []T, less func(a, b T) bool) {
	r := len(l)
	i, j := len1-1, len(b)-1
	if len1 == 0 {
		copy(l[r-len(b):], b)
		return
	}
	if len(b) == 0 {
		return
	}
	for {
		if less(b[j], l[i]) {
			r--
			l[r] = l[i]
			if i == 0 {
				copy(l[r-(j+1):r], b[:j+1])
				return
			}
			i--
		} else {
			r--
			l[r] = b[j]
			if j == 0 {
				return
			}
			j--
		}
	}
}
