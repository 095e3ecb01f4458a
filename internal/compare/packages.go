package compare

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/severity"
)

// trivyReport is the part of Trivy's JSON report the comparison reads
// (a vulnerability attestation's scanner.result).
type trivyReport struct {
	Results []struct {
		Target          string `json:"Target"`
		Vulnerabilities []struct {
			VulnerabilityID  string `json:"VulnerabilityID"`
			PkgName          string `json:"PkgName"`
			PkgPath          string `json:"PkgPath"`
			InstalledVersion string `json:"InstalledVersion"`
			FixedVersion     string `json:"FixedVersion"`
			Status           string `json:"Status"`
			Title            string `json:"Title"`
			PrimaryURL       string `json:"PrimaryURL"`
			Severity         string `json:"Severity"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

// findings are one result's vulnerabilities as findings.
func (r trivyReport) findingsOf(i int) []pipeline.Finding {
	var out []pipeline.Finding
	for _, v := range r.Results[i].Vulnerabilities {
		sev, err := severity.Parse(v.Severity)
		if err != nil {
			sev = severity.Unknown
		}
		out = append(out, pipeline.Finding{
			ID: v.VulnerabilityID, Severity: sev, Package: v.PkgName, Installed: v.InstalledVersion,
			Fixed: v.FixedVersion, Status: v.Status, Title: v.Title, URL: v.PrimaryURL, Path: v.PkgPath,
		})
	}
	return out
}

// cyclonedxPackages are a CycloneDX SBOM's packages: its components with
// a package URL (the operating system's component has none).
func cyclonedxPackages(data []byte) ([]pipeline.Package, error) {
	var bom struct {
		Components []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			PURL    string `json:"purl"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &bom); err != nil {
		return nil, err
	}
	out := []pipeline.Package{}
	for _, c := range bom.Components {
		if c.PURL == "" {
			continue
		}
		typ, _, _ := strings.Cut(strings.TrimPrefix(c.PURL, "pkg:"), "/")
		out = append(out, pipeline.Package{Name: c.Name, Version: c.Version, Type: typ})
	}
	return out, nil
}

// DiffPackages is what changed from base's packages to head's: a package
// (type and name) in one only is added or removed; one in both at other
// versions is upgraded or downgraded (by the versions' order,
// compareVersions), or, when either side holds it at several versions,
// those versions added and removed.
func DiffPackages(base, head []pipeline.Package) pipeline.PackageDiff {
	d := pipeline.PackageDiff{Added: []pipeline.Package{}, Removed: []pipeline.Package{}, Upgraded: []pipeline.PackageChange{}, Downgraded: []pipeline.PackageChange{}}
	type key struct{ typ, name string }
	versions := func(ps []pipeline.Package) map[key][]string {
		m := map[key][]string{}
		for _, p := range ps {
			k := key{p.Type, p.Name}
			m[k] = append(m[k], p.Version)
		}
		return m
	}
	bv, hv := versions(base), versions(head)
	for k, hs := range hv {
		bs, ok := bv[k]
		switch {
		case !ok:
			for _, v := range hs {
				d.Added = append(d.Added, pipeline.Package{Name: k.name, Version: v, Type: k.typ})
			}
		case len(hs) == 1 && len(bs) == 1 && hs[0] != bs[0]:
			c := pipeline.PackageChange{Name: k.name, Type: k.typ, From: bs[0], To: hs[0]}
			if compareVersions(hs[0], bs[0]) > 0 {
				d.Upgraded = append(d.Upgraded, c)
			} else {
				d.Downgraded = append(d.Downgraded, c)
			}
		case len(hs) > 1 || len(bs) > 1:
			for _, v := range hs {
				if !slices.Contains(bs, v) {
					d.Added = append(d.Added, pipeline.Package{Name: k.name, Version: v, Type: k.typ})
				}
			}
			for _, v := range bs {
				if !slices.Contains(hs, v) {
					d.Removed = append(d.Removed, pipeline.Package{Name: k.name, Version: v, Type: k.typ})
				}
			}
		}
	}
	for k, bs := range bv {
		if _, ok := hv[k]; !ok {
			for _, v := range bs {
				d.Removed = append(d.Removed, pipeline.Package{Name: k.name, Version: v, Type: k.typ})
			}
		}
	}
	byName := func(ps []pipeline.Package) {
		sort.Slice(ps, func(i, j int) bool {
			if ps[i].Name != ps[j].Name {
				return ps[i].Name < ps[j].Name
			}
			return ps[i].Version < ps[j].Version
		})
	}
	byChange := func(cs []pipeline.PackageChange) {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	}
	byName(d.Added)
	byName(d.Removed)
	byChange(d.Upgraded)
	byChange(d.Downgraded)
	return d
}

// compareVersions orders two package versions the way Debian's, Alpine's
// and semantic versions mostly agree: runs of digits compare as numbers,
// other runs as text, and '~' sorts before anything, even the end
// (1.0~rc1 < 1.0). It is an ordering for "upgraded" or "downgraded", not
// a package manager's.
func compareVersions(a, b string) int {
	for a != "" || b != "" {
		if a == "" || b == "" {
			// The longer one is newer, unless it goes on with '~'.
			rest, sign := a, 1
			if a == "" {
				rest, sign = b, -1
			}
			if strings.HasPrefix(rest, "~") {
				return -sign
			}
			return sign
		}
		ra, na := run(a)
		rb, nb := run(b)
		if c := compareRun(ra, rb); c != 0 {
			return c
		}
		a, b = a[na:], b[nb:]
	}
	return 0
}

// run is the leading run of digits, or of anything else, of s.
func run(s string) (string, int) {
	digit := unicode.IsDigit(rune(s[0]))
	i := 1
	for i < len(s) && unicode.IsDigit(rune(s[i])) == digit {
		i++
	}
	return s[:i], i
}

func compareRun(a, b string) int {
	da, db := unicode.IsDigit(rune(a[0])), unicode.IsDigit(rune(b[0]))
	switch {
	case da && db:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			return cmp(len(a), len(b))
		}
		return strings.Compare(a, b)
	case da != db:
		// A number after text sorts later than text after text (1.0.1 > 1.0a),
		// but '~' sorts before everything.
		switch {
		case strings.HasPrefix(a, "~"):
			return -1
		case strings.HasPrefix(b, "~"):
			return 1
		case da:
			return 1
		default:
			return -1
		}
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return cmp(order(a[i]), order(b[i]))
		}
	}
	return cmp(len(a), len(b))
}

// order ranks a non-digit character: '~' first, then letters, then the rest.
func order(c byte) int {
	switch {
	case c == '~':
		return -1
	case unicode.IsLetter(rune(c)):
		return int(c)
	default:
		return int(c) + 256
	}
}

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
