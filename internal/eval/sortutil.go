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
