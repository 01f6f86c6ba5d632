package syntax

import "sort"

// Bindings of attribute sets and lets. Nested attribute paths are merged
// here, at parse time, exactly as Nix's ParserState::addAttr does, because
// which definitions clash (and the error that says so) is part of the
// language: `a.b = 1; a.c = 2;` is one attribute `a`, `a = { b = 1; };
// a.c = 2;` too, but `a = x; a.c = 2;` is an error.

// parseBinds parses bindings into set until the closer token, which it
// leaves unread.
func (p *parser) parseBinds(set *AttrSet, closer tokKind) {
	for {
		t := p.peek()
		switch t.kind {
		case closer:
			return
		case tInherit:
			p.next()
			p.parseInherit(set)
		case tID, tOrKw, tQuote, tDollarCurly:
			start := t
			path := p.parseAttrPath()
			p.expect(tAssign, tDot, tAssign)
			v := p.parseExpr()
			p.expect(tSemi)
			p.addAttr(set, path, p.pos(start.off), v)
		default:
			// What bison reports here is decided by its default
			// reduction of the empty `binds`.
			switch {
			case closer == tIn:
				p.unexpected(t, tIn, tInherit)
			case set.Rec:
				p.unexpected(t, tRBrace, tInherit)
			default:
				p.unexpected(t, tInherit)
			}
		}
	}
}

// parseInherit parses the rest of `inherit [(e)] names;`.
func (p *parser) parseInherit(set *AttrSet) {
	var from Expr
	if t := p.peek(); t.kind == tLParen {
		from = p.parseGroup(t, tRParen)
	}
	for {
		t := p.peek()
		var name string
		switch t.kind {
		case tSemi:
			p.next()
			return
		case tID:
			p.next()
			name = p.intern(p.lx.src[t.off:t.end])
		case tOrKw:
			p.next()
			name = "or"
		case tQuote, tDollarCurly:
			a := p.parseAttr()
			if a.Expr != nil {
				p.errorAt(t.off, "dynamic attributes not allowed in inherit")
			}
			name = a.Name
		default:
			p.unexpected(t)
		}
		pos := p.pos(t.off)
		if prev := p.lookup(set, name); prev != nil {
			p.errorAtPos(pos, "attribute '"+printIdentifier(name)+"' already defined at "+ShowPos(prev.P))
		}
		b := &Binding{P: pos, Name: name, Inherited: true, InheritFrom: from}
		if from == nil {
			b.Value = &Var{P: pos, Name: name}
		} else {
			b.Value = &Select{P: pos, E: from, Path: []AttrName{{P: pos, Name: name}}}
		}
		p.insert(set, b)
	}
}

// lookup finds the static attribute name of set.
func (p *parser) lookup(set *AttrSet, name string) *Binding {
	if len(set.Attrs) <= 16 {
		for _, b := range set.Attrs {
			if b.Name == name {
				return b
			}
		}
		return nil
	}
	idx := p.index[set]
	if idx == nil {
		if p.index == nil {
			p.index = make(map[*AttrSet]map[string]*Binding)
		}
		idx = make(map[string]*Binding, 2*len(set.Attrs))
		for _, b := range set.Attrs {
			idx[b.Name] = b
		}
		p.index[set] = idx
	}
	return idx[name]
}

func (p *parser) insert(set *AttrSet, b *Binding) {
	set.Attrs = append(set.Attrs, b)
	if idx := p.index[set]; idx != nil {
		idx[b.Name] = b
	}
}

// addAttr adds `path = e;` (path at pos) to set.
func (p *parser) addAttr(set *AttrSet, path []AttrName, pos Pos, e Expr) {
	for i := 0; i < len(path)-1; i++ {
		a := path[i]
		var nested *AttrSet
		if a.Expr == nil {
			if b := p.lookup(set, a.Name); b != nil {
				n, ok := b.Value.(*AttrSet)
				if !ok {
					p.dupAttr(path[:i+1], pos, b.P)
				}
				nested = n
			} else {
				nested = &AttrSet{P: pos}
				p.insert(set, &Binding{P: pos, Name: a.Name, Value: nested})
			}
		} else {
			nested = &AttrSet{P: pos}
			set.Dynamic = append(set.Dynamic, &DynamicBinding{P: pos, Name: a.Expr, Value: nested})
		}
		set = nested
	}
	last := path[len(path)-1]
	if last.Expr != nil {
		set.Dynamic = append(set.Dynamic, &DynamicBinding{P: pos, Name: last.Expr, Value: e})
		return
	}
	p.addAttrDef(set, path, &Binding{P: pos, Name: last.Name, Value: e})
}

// addAttrDef adds the static binding def, whose full path is path, to set.
// If set already has the name and both values are attribute sets, def's
// attributes move into the existing set (in symbol order, which decides
// the duplicate that is reported); any `rec` of def's set is lost, as in
// Nix (NixOS/nix#9020).
func (p *parser) addAttrDef(set *AttrSet, path []AttrName, def *Binding) {
	j := p.lookup(set, def.Name)
	if j == nil {
		p.insert(set, def)
		if l, ok := def.Value.(*Lambda); ok {
			l.Name = def.Name
		}
		return
	}
	ae, ok1 := def.Value.(*AttrSet)
	jAttrs, ok2 := j.Value.(*AttrSet)
	if !ok1 || !ok2 || def.Inherited || j.Inherited {
		p.dupAttr(path, def.P, j.P)
	}
	attrs := append([]*Binding(nil), ae.Attrs...)
	sort.SliceStable(attrs, func(a, b int) bool { return p.symID(attrs[a].Name) < p.symID(attrs[b].Name) })
	for _, ad := range attrs {
		sub := append(path[:len(path):len(path)], AttrName{P: ad.P, Name: ad.Name})
		p.addAttrDef(jAttrs, sub, ad)
	}
	ae.Attrs = nil
	jAttrs.Dynamic = append(jAttrs.Dynamic, ae.Dynamic...)
	ae.Dynamic = nil
}

func (p *parser) dupAttr(path []AttrName, pos, prev Pos) {
	p.errorAtPos(pos, "attribute '"+showAttrPath(path)+"' already defined at "+ShowPos(prev))
}
