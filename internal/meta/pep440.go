package meta

import (
	"regexp"
	"strings"
)

// This file ports what metadata-action uses of @renovate/pep440
// (lib/version.js and lib/semantic.js): valid, clean, explain, major,
// minor and patch. Numbers go through JavaScript's Number() and back, as
// upstream, so "1.02" cleans to "1.2".

const pep440Pattern = `v?` +
	`(?:` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?P<pre>[-_\.]?(?P<pre_l>(a|b|c|rc|alpha|beta|pre|preview))[-_\.]?(?P<pre_n>[0-9]+)?)?` +
	`(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_\.]?(?P<post_l>post|rev|r)[-_\.]?(?P<post_n2>[0-9]+)?))?` +
	`(?P<dev>[-_\.]?(?P<dev_l>dev)[-_\.]?(?P<dev_n>[0-9]+)?)?` +
	`)` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?`

var (
	pep440Valid = regexp.MustCompile(`(?i)^` + pep440Pattern + `$`)
	pep440Clean = regexp.MustCompile(`(?i)^\s*` + pep440Pattern + `\s*$`)
	pep440Local = regexp.MustCompile(`[._-]`)
)

// pep440Version is the parsed form of lib/version.js parse().
type pep440Version struct {
	epoch   float64
	release []float64
	pre     []any // [letter, number] or nil
	post    []any
	dev     []any
	local   []any // strings and numbers, or nil
}

// parsePEP440 is parse(version, regex); nil when it does not match.
func parsePEP440(version string, re *regexp.Regexp) *pep440Version {
	m := re.FindStringSubmatch(version)
	if m == nil {
		return nil
	}
	g := func(name string) string { return m[re.SubexpIndex(name)] }
	p := &pep440Version{}
	if e := g("epoch"); e != "" {
		p.epoch, _ = jsNumber(e)
	}
	for _, r := range strings.Split(g("release"), ".") {
		n, _ := jsNumber(r)
		p.release = append(p.release, n)
	}
	p.pre = pep440Letter(g("pre_l"), g("pre_n"))
	postN := g("post_n1")
	if postN == "" {
		postN = g("post_n2")
	}
	p.post = pep440Letter(g("post_l"), postN)
	p.dev = pep440Letter(g("dev_l"), g("dev_n"))
	if l := g("local"); l != "" {
		for _, part := range pep440Local.Split(l, -1) {
			if n, ok := jsNumber(part); ok {
				p.local = append(p.local, n)
			} else {
				p.local = append(p.local, strings.ToLower(part))
			}
		}
	}
	return p
}

// pep440Letter is normalize_letter_version.
func pep440Letter(letter, number string) []any {
	if letter != "" {
		n := 0.0
		if number != "" {
			n, _ = jsNumber(number)
		}
		switch letter = strings.ToLower(letter); letter {
		case "alpha":
			letter = "a"
		case "beta":
			letter = "b"
		case "c", "pre", "preview":
			letter = "rc"
		case "rev", "r":
			letter = "post"
		}
		return []any{letter, n}
	}
	if number != "" { // implicit post release, e.g. 1.0-1
		n, _ := jsNumber(number)
		return []any{"post", n}
	}
	return nil
}

// String is stringify(parsed).
func (p *pep440Version) String() string {
	var b strings.Builder
	if p.epoch != 0 {
		b.WriteString(jsNumberString(p.epoch) + "!")
	}
	rel := make([]any, len(p.release))
	for i, r := range p.release {
		rel[i] = r
	}
	b.WriteString(strings.ReplaceAll(jsString(rel), ",", "."))
	if p.pre != nil {
		b.WriteString(jsString(p.pre[0]) + jsString(p.pre[1]))
	}
	if p.post != nil {
		b.WriteString("." + jsString(p.post[0]) + jsString(p.post[1]))
	}
	if p.dev != nil {
		b.WriteString("." + jsString(p.dev[0]) + jsString(p.dev[1]))
	}
	if p.local != nil {
		// Upstream interpolates the array: its parts are joined with ",".
		b.WriteString("+" + jsString(p.local))
	}
	return b.String()
}

// pep440IsValid is pep440.valid(v) != null.
func pep440IsValid(v string) bool { return pep440Valid.MatchString(v) }

// pep440CleanVersion is pep440.clean(v).
func pep440CleanVersion(v string) string {
	if p := parsePEP440(v, pep440Clean); p != nil {
		return p.String()
	}
	return ""
}

// pep440Explained is what metadata-action reads of pep440.explain(v).
type pep440Explained struct {
	isPrerelease, isPostrelease, isDevrelease bool
	release                                   []float64
}

// pep440Explain is pep440.explain(v); ok is false for an invalid v.
func pep440Explain(v string) (pep440Explained, bool) {
	p := parsePEP440(v, pep440Valid)
	if p == nil {
		return pep440Explained{}, false
	}
	return pep440Explained{
		isPrerelease:  p.dev != nil || p.pre != nil,
		isPostrelease: p.post != nil,
		isDevrelease:  p.dev != nil,
		release:       p.release,
	}, true
}

// segment is lib/semantic.js major (i=0), minor (1) and patch (2):
// missing segments are 0.
func (e pep440Explained) segment(i int) float64 {
	if i < len(e.release) {
		return e.release[i]
	}
	return 0
}
