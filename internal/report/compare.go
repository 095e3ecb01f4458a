package report

import (
	"fmt"
	"strings"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/units"
)

// maxCompareRows bounds each list of the comparison's details (new and
// fixed vulnerabilities, each platform's package changes).
const maxCompareRows = 50

// compareHeadline is the comparison in one line: "+1 HIGH, −2 fixed,
// +3.1 MiB (+4.2 %)".
func compareHeadline(c *pipeline.CompareResult) string {
	var parts []string
	for _, sev := range severities {
		if n := c.NewCounts[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("+%d %s", n, sev))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no new vulnerability")
	}
	if n := len(c.Fixed); n > 0 {
		parts = append(parts, fmt.Sprintf("−%d fixed", n))
	}
	var size, base int64
	for _, p := range c.Platforms {
		size, base = size+p.Size, base+p.BaseSize // a platform the base lacks: all added
	}
	abs, pct := sizeDelta(size, base)
	if pct != "" {
		abs += " (" + pct + ")"
	}
	return strings.Join(append(parts, abs), ", ")
}

// sizeDelta is the change from base to size: "+3.1 MiB" and "+4.2 %"
// ("" when base is 0).
func sizeDelta(size, base int64) (abs, pct string) {
	d := size - base
	sign := "+"
	switch {
	case d < 0:
		sign, d = "−", -d
	case d == 0:
		sign = "±"
	}
	if base > 0 {
		pct = fmt.Sprintf("%s%.1f %%", sign, float64(d)*100/float64(base))
	}
	return sign + units.Bytes(d), pct
}

// compareSection renders the comparison: the headline, a table per
// platform, and the details.
func compareSection(b *strings.Builder, p *pipeline.Plan, r *pipeline.Result) {
	c := r.Compare
	if c == nil {
		return
	}
	fmt.Fprintf(b, "\n### Compared with %s\n\n", code(c.Base))
	if !c.Compared {
		fmt.Fprintf(b, "No comparison: %s.\n", oneLine(c.Note))
		if p.Scan.GateNew {
			b.WriteString("The gate judged every finding (gate: new needs a base to compare with).\n")
		}
		return
	}
	how := "its signed attestations (no layer read)"
	if c.Source == pipeline.FromRemoteScan {
		how = "a scan of it from the registry"
	}
	fmt.Fprintf(b, "**%s** against %s, from %s.\n", compareHeadline(c), code(c.Image), how)
	if c.Note != "" && c.Source == pipeline.FromRemoteScan {
		fmt.Fprintf(b, "\n> %s\n", oneLine(c.Note))
	}
	b.WriteString("\n| platform | new | fixed | unchanged | vulnerabilities (Δ) | packages | size (Δ) | layers |\n|---|---:|---:|---:|---|---|---|---|\n")
	for _, pc := range c.Platforms {
		if pc.Missing {
			fmt.Fprintf(b, "| %s | %d | — | — | the base has no %s image: all new | — | %s | %d |\n", esc(pc.Platform), len(pc.New), esc(pc.Platform), units.Bytes(pc.Size), pc.Layers)
			continue
		}
		var sev []string
		for _, s := range severities {
			n, was := pc.Counts[s], pc.BaseCounts[s]
			if n == 0 && was == 0 {
				continue
			}
			sev = append(sev, fmt.Sprintf("%s %d (%s)", s, n, signed(n-was)))
		}
		if len(sev) == 0 {
			sev = []string{"none"}
		}
		pk := pc.Packages
		delta := strings.Join(nonEmpty(sizeDelta(pc.Size, pc.BaseSize)), ", ")
		fmt.Fprintf(b, "| %s | %d | %d | %d | %s | +%d −%d ↑%d ↓%d | %s (%s) | %d (%d new) |\n", esc(pc.Platform), len(pc.New), len(pc.Fixed), pc.Unchanged,
			strings.Join(sev, ", "), len(pk.Added), len(pk.Removed), len(pk.Upgraded), len(pk.Downgraded), units.Bytes(pc.Size), delta, pc.Layers, len(pc.NewLayers))
	}
	for _, pc := range c.Platforms {
		if pc.FROM != "" && pc.BaseFROM != "" && pc.FROM != pc.BaseFROM {
			fmt.Fprintf(b, "\n%s: the base image moved from %s to %s.\n", esc(pc.Platform), code(pc.BaseFROM), code(pc.FROM))
		}
	}
	findingDetails(b, "New vulnerabilities", c.New, len(c.New) > 0 && r.Scan != nil && !r.Scan.Passed)
	findingDetails(b, "Fixed vulnerabilities", c.Fixed, false)
	for _, pc := range c.Platforms {
		pk := pc.Packages
		n := len(pk.Added) + len(pk.Removed) + len(pk.Upgraded) + len(pk.Downgraded)
		if n == 0 {
			continue
		}
		fmt.Fprintf(b, "\n<details><summary>Packages of %s: %d added, %d removed, %d upgraded, %d downgraded</summary>\n\n", esc(pc.Platform), len(pk.Added), len(pk.Removed), len(pk.Upgraded), len(pk.Downgraded))
		shown := 0
		line := func(format string, args ...any) {
			if shown < maxCompareRows {
				fmt.Fprintf(b, format, args...)
			}
			shown++
		}
		for _, x := range pk.Added {
			line("- added %s %s\n", code(x.Name), esc(x.Version))
		}
		for _, x := range pk.Removed {
			line("- removed %s %s\n", code(x.Name), esc(x.Version))
		}
		for _, x := range pk.Upgraded {
			line("- upgraded %s %s → %s\n", code(x.Name), esc(x.From), esc(x.To))
		}
		for _, x := range pk.Downgraded {
			line("- downgraded %s %s → %s\n", code(x.Name), esc(x.From), esc(x.To))
		}
		if shown > maxCompareRows {
			fmt.Fprintf(b, "\n_%d more in slipway-report.json._\n", shown-maxCompareRows)
		}
		b.WriteString("\n</details>\n")
	}
}

// findingDetails lists findings in a details block.
func findingDetails(b *strings.Builder, title string, fs []pipeline.Finding, open bool) {
	if len(fs) == 0 {
		return
	}
	o := ""
	if open {
		o = " open"
	}
	fmt.Fprintf(b, "\n<details%s><summary>%s (%d)</summary>\n\n| severity | vulnerability | package | installed | fixed in | platforms |\n|---|---|---|---|---|---|\n", o, title, len(fs))
	for i, f := range fs {
		if i == maxCompareRows {
			fmt.Fprintf(b, "\n_%d more in slipway-report.json._\n", len(fs)-i)
			break
		}
		id := esc(f.ID)
		if f.URL != "" {
			id = fmt.Sprintf("[%s](%s)", id, f.URL)
		}
		fixed := esc(f.Fixed)
		if fixed == "" {
			fixed = "—"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", esc(f.Severity.String()), id, esc(f.Package), esc(f.Installed), fixed, esc(strings.Join(f.Platforms, ", ")))
	}
	b.WriteString("\n</details>\n")
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

func signed(n int) string {
	switch {
	case n > 0:
		return fmt.Sprintf("+%d", n)
	case n < 0:
		return fmt.Sprintf("−%d", -n)
	}
	return "±0"
}

// compareOutputs are the comparison's step outputs.
func compareOutputs(c *pipeline.CompareResult) [][2]string {
	if c == nil || !c.Compared {
		return nil
	}
	var out [][2]string
	for _, sev := range severities {
		out = append(out, [2]string{"vulnerabilities-new-" + strings.ToLower(sev.String()), fmt.Sprint(c.NewCounts[sev])})
	}
	return append(out,
		[2]string{"vulnerabilities-fixed", fmt.Sprint(len(c.Fixed))},
		[2]string{"size-delta-bytes", fmt.Sprint(c.SizeDelta)},
		[2]string{"compare-base", c.Image})
}

// compareDotenv is the comparison in slipway.env: the base by digest,
// and the outputs' figures on one line, name=value, comma-separated
// (one variable, under GitLab's limit of 20).
func compareDotenv(c *pipeline.CompareResult) (base, figures string) {
	if c == nil || !c.Compared {
		return "", ""
	}
	var kv []string
	for _, o := range compareOutputs(c) {
		if o[0] != "compare-base" {
			kv = append(kv, o[0]+"="+o[1])
		}
	}
	return c.Image, strings.Join(kv, ",")
}
