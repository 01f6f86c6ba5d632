package eval

// Escape analysis of lambda bodies. A call's environment can be reused
// once the call returns when nothing created during the body's evaluation
// keeps a reference to it: no closure (lambdaCode), no thunk over it or
// over a frame chained below it (let, with, rec sets), no inherit-from
// frame. Values reached through the environment's slots are cells of their
// own and are unaffected.

// captures reports whether evaluating c in an environment may keep a
// reference to that environment after the evaluation returns. It is
// conservative: unknown code captures.
func captures(c code) bool {
	switch c := c.(type) {
	case *constCode, *varCode, *withVarCode, *curPosCode:
		return false
	case *primBinCode:
		return captures(c.l) || captures(c.r)
	case *selectCode:
		return captures(c.e) || pathCaptures(c.path) || (c.def != nil && captures(c.def))
	case *hasAttrCode:
		return captures(c.e) || pathCaptures(c.path)
	case *attrsCode:
		if c.rec || len(c.inh) > 0 {
			return true
		}
		for i := range c.static {
			if c.static[i].inh || lazyCaptures(c.static[i].l, false) {
				return true
			}
		}
		for i := range c.dynamic {
			if captures(c.dynamic[i].name) || lazyCaptures(c.dynamic[i].l, false) {
				return true
			}
		}
		return false
	case *listCode:
		for _, l := range c.elems {
			if lazyCaptures(l, false) {
				return true
			}
		}
		return false
	case *callCode:
		if captures(c.fn) {
			return true
		}
		for _, l := range c.args {
			if lazyCaptures(l, false) {
				return true
			}
		}
		return false
	case *letCode:
		if len(c.inh) > 0 {
			return true
		}
		for i := range c.binds {
			// a variable bound in the same let may not be filled yet
			// when its binding is made (then it becomes a thunk).
			if c.binds[i].inh || lazyCaptures(c.binds[i].l, true) {
				return true
			}
		}
		return captures(c.body)
	case *withCode:
		return lazyCaptures(c.attrs, false) || captures(c.body)
	case *ifCode:
		return captures(c.cond) || captures(c.then) || captures(c.els)
	case *assertCode:
		return captures(c.cond) || captures(c.body)
	case *notCode:
		return captures(c.e)
	case *binCode:
		return captures(c.l) || captures(c.r)
	case *concatCode:
		for _, p := range c.parts {
			if captures(p) {
				return true
			}
		}
		return false
	}
	return true
}

func pathCaptures(path []attrName) bool {
	for i := range path {
		if path[i].dyn != nil && captures(path[i].dyn) {
			return true
		}
	}
	return false
}

// lazyCaptures reports whether l.get may keep the environment: a thunk
// does; a variable does only when its cell can still be unset (inFill).
func lazyCaptures(l *lazy, inFill bool) bool {
	switch l.mode {
	case lazyConst:
		return false
	case lazyVar:
		return inFill
	}
	return true
}

// lambdaNoEscape reports whether a call of lc can reuse its environment
// after returning: the body and every default keep no reference to it.
func lambdaNoEscape(lc *lambdaCode) bool {
	for i := range lc.fs {
		if d := lc.fs[i].def; d != nil && lazyCaptures(d, true) {
			return false
		}
	}
	return !captures(lc.body)
}
