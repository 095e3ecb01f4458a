package meta

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// This file implements the subset of Handlebars 4 that metadata-action's
// templates are written in: text, {{expression}} (HTML-escaped),
// {{{expression}}} and {{& expression}} (not escaped), comments,
// whitespace control (~), \{{ escapes, paths (a.b, this.a, ./a), string,
// number, boolean, null and undefined literals, positional parameters and
// hash arguments (key=value). An identifier that names a function of the
// context is called as a helper; the built-in helpers lookup and log are
// available. Blocks, partials, sub-expressions and @data variables are
// rejected as errors.

// helper is a function of a template context, called with the
// expression's parameters and its hash arguments in source order.
type helper func(params []any, hash []hashArg) (any, error)

// hashArg is one key=value argument of an expression.
type hashArg struct {
	key   string
	value any
}

// tmplNode is a piece of a parsed template: text, or an expression.
type tmplNode struct {
	text    string
	expr    *tmplExpr
	comment bool
}

// tmplExpr is one {{...}} expression.
type tmplExpr struct {
	escaped bool
	name    operand
	params  []operand
	hash    []hashOperand
}

// operand is a literal or a path in an expression.
type operand struct {
	literal any      // for literals
	path    []string // for paths; empty for `this`
	isPath  bool
}

type hashOperand struct {
	key   string
	value operand
}

// template is a parsed Handlebars template.
type template struct {
	nodes []tmplNode
}

// parseTemplate parses src.
func parseTemplate(src string) (*template, error) {
	t := &template{}
	stripNextLeft := false
	for len(src) > 0 {
		open := strings.Index(src, "{{")
		if open < 0 {
			t.addText(src, stripNextLeft)
			break
		}
		if open > 0 && src[open-1] == '\\' {
			if open > 1 && src[open-2] == '\\' { // \\{{ is a backslash and a real expression
				t.addText(src[:open-1], stripNextLeft)
			} else {
				// \{{ escapes: the text runs to the next {{.
				next := strings.Index(src[open+2:], "{{")
				end := len(src)
				if next >= 0 {
					end = open + 2 + next
				}
				t.addText(src[:open-1]+src[open:end], stripNextLeft)
				stripNextLeft = false
				src = src[end:]
				continue
			}
		} else {
			t.addText(src[:open], stripNextLeft)
		}
		node, rest, stripLeft, stripRight, err := parseMustache(src[open:])
		if err != nil {
			return nil, err
		}
		if stripLeft {
			t.trimLastText()
		}
		t.nodes = append(t.nodes, node)
		stripNextLeft = stripRight
		src = rest
	}
	t.standaloneComments()
	return t, nil
}

func (t *template) addText(s string, stripLeft bool) {
	if stripLeft {
		s = strings.TrimLeft(s, " \t\r\n\f\v")
	}
	if s != "" {
		t.nodes = append(t.nodes, tmplNode{text: s})
	}
}

func (t *template) trimLastText() {
	if n := len(t.nodes); n > 0 && t.nodes[n-1].expr == nil && !t.nodes[n-1].comment {
		t.nodes[n-1].text = strings.TrimRight(t.nodes[n-1].text, " \t\r\n\f\v")
	}
}

// standaloneComments removes the blanks around a comment that sits alone
// on its line, as Handlebars' WhitespaceControl does.
func (t *template) standaloneComments() {
	for i, n := range t.nodes {
		if !n.comment {
			continue
		}
		var prev, next *tmplNode
		if i > 0 && !t.nodes[i-1].comment && t.nodes[i-1].expr == nil {
			prev = &t.nodes[i-1]
		} else if i > 0 {
			continue
		}
		if i+1 < len(t.nodes) && !t.nodes[i+1].comment && t.nodes[i+1].expr == nil {
			next = &t.nodes[i+1]
		} else if i+1 < len(t.nodes) {
			continue
		}
		prevOK := prev == nil || blankLineEnd(prev.text, true)
		nextOK := next == nil || blankLineEnd(next.text, false)
		if !prevOK || !nextOK {
			continue
		}
		if prev != nil {
			prev.text = strings.TrimRight(prev.text, " \t")
		}
		if next != nil {
			s := strings.TrimLeft(next.text, " \t")
			s = strings.TrimPrefix(s, "\r")
			next.text = strings.TrimPrefix(s, "\n")
		}
	}
}

// blankLineEnd reports whether the end (before) or start (after) of s up
// to a newline is blank.
func blankLineEnd(s string, before bool) bool {
	if before {
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	} else if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s) == ""
}

// parseMustache parses the expression at the start of s ("{{...").
func parseMustache(s string) (node tmplNode, rest string, stripLeft, stripRight bool, err error) {
	if strings.HasPrefix(s, "{{{{") {
		return node, "", false, false, errors.New("raw blocks {{{{ }}}} are not supported")
	}
	triple := strings.HasPrefix(s, "{{{")
	open, closing := "{{", "}}"
	if triple {
		open, closing = "{{{", "}}}"
	}
	body := s[len(open):]
	if strings.HasPrefix(body, "~") {
		stripLeft, body = true, body[1:]
	}
	// Comments: {{!-- ... --}} may contain }}; {{! ... }} may not.
	if strings.HasPrefix(body, "!") && !triple {
		re := tmplShortComment
		if strings.HasPrefix(body, "!--") {
			re = tmplLongComment
		}
		m := re.FindStringSubmatchIndex(body)
		if m == nil {
			return node, "", false, false, errors.New("unclosed comment")
		}
		return tmplNode{comment: true}, body[m[1]:], stripLeft, m[2] < m[3], nil
	}
	end := strings.Index(body, closing)
	if end < 0 {
		return node, "", false, false, fmt.Errorf("expression %q is not closed with %q", s, closing)
	}
	inner, after := body[:end], body[end+len(closing):]
	if strings.HasSuffix(inner, "~") {
		stripRight, inner = true, inner[:len(inner)-1]
	}
	escaped := !triple
	trimmed := strings.TrimLeft(inner, " \t\r\n")
	if !triple && strings.HasPrefix(trimmed, "&") {
		escaped, inner = false, trimmed[1:]
	} else if !triple && trimmed != "" && strings.ContainsRune("#/^>", rune(trimmed[0])) {
		return node, "", false, false, fmt.Errorf("block helpers and partials ({{%c...}}) are not supported", trimmed[0])
	}
	expr, err := parseExpr(inner)
	if err != nil {
		return node, "", false, false, fmt.Errorf("expression {{%s}}: %w", inner, err)
	}
	expr.escaped = escaped
	return tmplNode{expr: expr}, after, stripLeft, stripRight, nil
}

var (
	tmplShortComment = regexp.MustCompile(`(~?)}}`)
	tmplLongComment  = regexp.MustCompile(`--(~?)}}`)
	tmplNumber       = regexp.MustCompile(`^-?[0-9]+(?:\.[0-9]+)?$`)
	// tmplID is Handlebars' ID token: anything but whitespace and
	// !"#%&'()*+,./;<=>@[\]^`{|}~
	tmplID = regexp.MustCompile("^[^\\s!\"#%-,\\./;->@\\[-\\^`\\{-~]+")
)

// parseExpr parses the inside of {{...}}: name, parameters and hash.
func parseExpr(s string) (*tmplExpr, error) {
	toks, err := lexExpr(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty expression")
	}
	e := &tmplExpr{}
	for i, tok := range toks {
		key, val, isHash := strings.Cut(tok, "\x00=")
		if i == 0 && isHash {
			return nil, errors.New("expression starts with a hash argument")
		}
		if !isHash {
			if len(e.hash) > 0 {
				return nil, errors.New("positional parameter after a hash argument")
			}
			val = tok
		}
		op, err := parseOperand(val)
		if err != nil {
			return nil, err
		}
		switch {
		case i == 0:
			e.name = op
		case isHash:
			e.hash = append(e.hash, hashOperand{key: key, value: op})
		default:
			e.params = append(e.params, op)
		}
	}
	if e.name.isPath && len(e.name.path) == 0 && (len(e.params) > 0 || len(e.hash) > 0) {
		return nil, errors.New("`this` cannot be called as a helper")
	}
	return e, nil
}

// lexExpr splits an expression into tokens. A hash argument is returned
// as key + "\x00=" + value.
func lexExpr(s string) ([]string, error) {
	var toks []string
	for {
		s = strings.TrimLeft(s, " \t\r\n\f")
		if s == "" {
			return toks, nil
		}
		key := ""
		if m := tmplID.FindString(s); m != "" && strings.HasPrefix(strings.TrimLeft(s[len(m):], " \t"), "=") {
			key = m
			s = strings.TrimLeft(strings.TrimLeft(s[len(m):], " \t")[1:], " \t")
			if s == "" {
				return nil, fmt.Errorf("hash argument %q has no value", key)
			}
		}
		tok, rest, err := lexOperand(s)
		if err != nil {
			return nil, err
		}
		if key != "" {
			tok = key + "\x00=" + tok
		}
		toks = append(toks, tok)
		s = rest
		if s != "" && !strings.ContainsRune(" \t\r\n\f", rune(s[0])) {
			return nil, fmt.Errorf("unexpected %q", s)
		}
	}
}

// lexOperand returns the literal or path token at the start of s.
func lexOperand(s string) (tok, rest string, err error) {
	switch c := s[0]; c {
	case '"', '\'':
		for i := 1; i < len(s); i++ {
			if s[i] == '\\' && i+1 < len(s) && s[i+1] == c {
				i++
				continue
			}
			if s[i] == c {
				return s[:i+1], s[i+1:], nil
			}
		}
		return "", "", errors.New("unterminated string literal")
	case '(':
		return "", "", errors.New("sub-expressions are not supported")
	case '@':
		return "", "", errors.New("@data variables are not supported")
	}
	end := strings.IndexAny(s, " \t\r\n\f")
	if end < 0 {
		end = len(s)
	}
	return s[:end], s[end:], nil
}

// parseOperand parses one token into a literal or a path.
func parseOperand(tok string) (operand, error) {
	switch {
	case tok[0] == '"' || tok[0] == '\'':
		q := string(tok[0])
		return operand{literal: strings.ReplaceAll(tok[1:len(tok)-1], `\`+q, q)}, nil
	case tok == "true" || tok == "false":
		return operand{literal: tok == "true"}, nil
	case tok == "undefined" || tok == "null":
		return operand{literal: nil}, nil
	case tmplNumber.MatchString(tok):
		n, _ := jsNumber(tok)
		return operand{literal: n}, nil
	}
	return parsePath(tok)
}

// parsePath parses a.b, a/b, this, this.a, ./a and [literal] segments.
func parsePath(tok string) (operand, error) {
	op := operand{isPath: true}
	s := tok
	for first := true; s != ""; first = false {
		var seg string
		switch s[0] {
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return op, fmt.Errorf("unclosed [ in %q", tok)
			}
			seg, s = s[1:end], s[end+1:]
			op.path = append(op.path, seg)
		default:
			m := tmplID.FindString(s)
			if m == "" {
				switch {
				case strings.HasPrefix(s, ".."):
					return op, errors.New("parent paths (..) are not supported")
				case first && s[0] == '.':
					m = "." // this
				default:
					return op, fmt.Errorf("invalid path %q", tok)
				}
			}
			s = s[len(m):]
			if !first || (m != "this" && m != ".") {
				op.path = append(op.path, m)
			}
		}
		if s != "" {
			if s[0] != '.' && s[0] != '/' {
				return op, fmt.Errorf("invalid path %q", tok)
			}
			s = s[1:]
			if s == "" {
				return op, fmt.Errorf("invalid path %q", tok)
			}
		}
	}
	return op, nil
}

// isRawStatement is metadata-action's Meta.isRawStatement: the template is
// exactly one {{raw}} expression.
func (t *template) isRawStatement() bool {
	return len(t.nodes) == 1 && t.nodes[0].expr != nil && t.nodes[0].expr.name.isPath &&
		len(t.nodes[0].expr.name.path) == 1 && t.nodes[0].expr.name.path[0] == "raw"
}

// render evaluates the template against ctx.
func (t *template) render(ctx map[string]any) (string, error) {
	var b strings.Builder
	for _, n := range t.nodes {
		switch {
		case n.comment:
		case n.expr == nil:
			b.WriteString(n.text)
		default:
			v, err := n.expr.eval(ctx)
			if err != nil {
				return "", err
			}
			s := jsString(v)
			if n.expr.escaped {
				s = htmlEscaper.Replace(s)
			}
			b.WriteString(s)
		}
	}
	return b.String(), nil
}

// eval evaluates one expression as Handlebars' compiled code does:
// built-in helpers first, then the context; functions are called.
func (e *tmplExpr) eval(ctx map[string]any) (any, error) {
	params := make([]any, len(e.params))
	for i, p := range e.params {
		params[i] = p.value(ctx)
	}
	hash := make([]hashArg, len(e.hash))
	for i, h := range e.hash {
		hash[i] = hashArg{key: h.key, value: h.value.value(ctx)}
	}
	name := e.name
	if name.isPath && len(name.path) == 1 {
		switch name.path[0] {
		case "lookup":
			if len(params) < 2 {
				return nil, errors.New("lookup needs an object and a field")
			}
			return lookupProperty(params[0], jsString(params[1])), nil
		case "log", "helperMissing":
			return nil, nil
		case "if", "unless", "each", "with", "blockHelperMissing":
			return nil, fmt.Errorf("helper %q is only available as a block, which is not supported", name.path[0])
		}
	}
	v := name.literal
	if name.isPath {
		v = resolvePath(ctx, name.path)
	} else {
		v = lookupProperty(ctx, jsString(v))
	}
	if fn, ok := v.(helper); ok {
		return fn(params, hash)
	}
	if len(params) > 0 || len(hash) > 0 {
		return nil, fmt.Errorf("missing helper %q", strings.Join(name.path, "."))
	}
	return v, nil
}

// value returns the value of an operand used as a parameter; functions
// are passed as they are, as in Handlebars.
func (o operand) value(ctx map[string]any) any {
	if !o.isPath {
		return o.literal
	}
	v := resolvePath(ctx, o.path)
	return v
}

// resolvePath looks a path up in ctx. Intermediate functions are called,
// as Handlebars' lambdas.
func resolvePath(ctx map[string]any, path []string) any {
	var v any = ctx
	for i, seg := range path {
		v = lookupProperty(v, seg)
		if fn, ok := v.(helper); ok && i < len(path)-1 {
			v, _ = fn(nil, nil)
		}
	}
	return v
}

// lookupProperty reads an own property of an object or array.
func lookupProperty(obj any, key string) any {
	switch o := obj.(type) {
	case map[string]any:
		return o[key]
	case []any:
		if key == "length" {
			return float64(len(o))
		}
		for i := range o {
			if key == fmt.Sprint(i) {
				return o[i]
			}
		}
	}
	return nil
}
