package main

import (
	"bytes"
	"errors"
)

// The bench client reads the server's stream with a byte-level scanner:
// it cuts the input into the stream header, top-level elements and the
// stream's end, without building a tree. Servers send no comments, DOCTYPEs
// or CDATA sections (RFC 6120 §11); the scanner refuses them rather than
// guessing. What it returns is checked by looking at the element's name
// and a few attributes, which is all a benchmark needs to verify a step.

// unit is what scan cut from the input.
type unit int

const (
	unitNone    unit = iota // not enough input yet
	unitDecl                // an XML declaration (skipped)
	unitHeader              // <stream:stream …>
	unitElement             // a complete top-level element
	unitEnd                 // </stream:stream>
)

var errSyntax = errors.New("bench: unexpected XML from the server")

// scan looks at the start of b, inside a stream when inStream, and returns
// the kind and length of the first complete unit (whitespace before it
// included), or unitNone when b holds no complete unit yet.
func scan(b []byte, inStream bool) (unit, int, error) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return unitNone, 0, nil
	}
	if b[i] != '<' {
		return unitNone, 0, errSyntax
	}
	depth := 0
	for {
		// b[i] == '<': one tag.
		if i+1 >= len(b) {
			return unitNone, 0, nil
		}
		end := tagEnd(b, i)
		if end < 0 {
			return unitNone, 0, nil
		}
		switch c := b[i+1]; {
		case c == '?':
			if depth != 0 || !bytes.HasSuffix(b[i:end], []byte("?>")) {
				return unitNone, 0, errSyntax
			}
			return unitDecl, end, nil
		case c == '!':
			return unitNone, 0, errSyntax
		case c == '/':
			if depth == 0 {
				return unitEnd, end, nil
			}
			depth--
		case b[end-2] == '/':
			// <…/>: self-closing, depth unchanged.
		default:
			if depth == 0 && !inStream {
				return unitHeader, end, nil
			}
			depth++
		}
		if depth == 0 {
			return unitElement, end, nil
		}
		// Text up to the next tag.
		j := bytes.IndexByte(b[end:], '<')
		if j < 0 {
			return unitNone, 0, nil
		}
		i = end + j
	}
}

// tagEnd returns the offset just past the '>' ending the tag at b[i], or -1
// when b does not hold all of it. A '>' inside a quoted attribute value does
// not end the tag.
func tagEnd(b []byte, i int) int {
	var quote byte
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			return j + 1
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// name returns the qualified name of the element (or header) that starts
// el, whitespace before it skipped.
func name(el []byte) []byte {
	el = bytes.TrimLeft(el, " \t\r\n")
	if len(el) < 2 || el[0] != '<' {
		return nil
	}
	j := 1
	if el[1] == '/' {
		j = 2 // an end tag: its name with the slash
	}
	for j < len(el) && !isSpace(el[j]) && el[j] != '>' && el[j] != '/' {
		j++
	}
	return el[1:j]
}

// attr returns the raw (still escaped) value of the attribute key of el's
// start tag, and whether it has one.
func attr(el []byte, key string) ([]byte, bool) {
	el = bytes.TrimLeft(el, " \t\r\n")
	end := tagEnd(el, 0)
	if end < 0 {
		return nil, false
	}
	tag := el[:end]
	n := len(name(tag)) + 1
	for n < len(tag) {
		for n < len(tag) && isSpace(tag[n]) {
			n++
		}
		k := n
		for n < len(tag) && tag[n] != '=' && tag[n] != '>' && tag[n] != '/' && !isSpace(tag[n]) {
			n++
		}
		if n == k {
			return nil, false
		}
		key0 := tag[k:n]
		for n < len(tag) && (isSpace(tag[n]) || tag[n] == '=') {
			n++
		}
		if n >= len(tag) || (tag[n] != '\'' && tag[n] != '"') {
			return nil, false
		}
		q := tag[n]
		v := n + 1
		e := bytes.IndexByte(tag[v:], q)
		if e < 0 {
			return nil, false
		}
		if string(key0) == key {
			return tag[v : v+e], true
		}
		n = v + e + 1
	}
	return nil, false
}

// child returns the content of the first element named tag inside el (its
// text when it has only text), and whether there is one.
func child(el []byte, tag string) ([]byte, bool) {
	open := []byte("<" + tag)
	for off := 0; ; {
		i := bytes.Index(el[off:], open)
		if i < 0 {
			return nil, false
		}
		i += off
		j := i + len(open)
		if j < len(el) && (isSpace(el[j]) || el[j] == '>' || el[j] == '/') {
			end := tagEnd(el, i)
			if end < 0 {
				return nil, false
			}
			if el[end-2] == '/' {
				return nil, true
			}
			k := bytes.Index(el[end:], []byte("</"+tag+">"))
			if k < 0 {
				return nil, false
			}
			return el[end : end+k], true
		}
		off = j
	}
}
