package pipeline

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteText writes the plan for a person to read.
func (p *Plan) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	section := func(title string) { fmt.Fprintf(tw, "\n%s\n", title) }
	row := func(k string, v any) {
		switch x := v.(type) {
		case []string:
			if len(x) == 0 {
				return
			}
			v = strings.Join(x, ", ")
		case string:
			if x == "" {
				return
			}
		}
		fmt.Fprintf(tw, "  %s\t%v\n", k, v)
	}
	c := p.CI
	fmt.Fprintf(tw, "slipway plan (%s, %s %s at %s)\n", c.Provider, c.Event, c.Ref, short(c.SHA))
	section("Context")
	row("repository", c.Repository)
	row("event", c.EventName)
	row("branch", c.Branch)
	row("tag", c.Tag)
	if c.PR != 0 {
		row("pull request", fmt.Sprintf("#%d (base %s, fork %v)", c.PR, c.BaseRef, c.Fork))
	}
	row("default branch", c.DefaultBranch)
	row("run", c.RunURL)

	section("Metadata")
	row("version", p.Metadata.Version.Main)
	row("tags", p.Metadata.Tags)
	for _, k := range sortedKeys(p.Metadata.Labels) {
		row("label", k+"="+p.Metadata.Labels[k])
	}
	row("annotations", p.Metadata.Annotations)

	if pr := p.Promote; pr != nil {
		section("Promote")
		row("source", pr.Source.String())
		row("signed by", pr.Identity)
		row("report max age", pr.ReportMaxAge.String())
	} else {
		p.writeBuild(row, section)
	}

	section("Publish")
	if p.Publish.Push {
		row("push", "by digest, tags last")
	} else {
		row("push", "no ("+p.Publish.Reason+")")
	}
	tags := p.Publish.TagNames()
	for _, repo := range p.Publish.Repositories {
		row(repo.Name(), tags[repo.Name()])
	}

	section("Scan")
	if p.Scan.Enabled {
		row("severity", shown(p.Scan.Severity))
		row("ignore-unfixed", p.Scan.IgnoreUnfixed)
		row("trivyignores", p.Scan.TrivyIgnores)
		row("fail on findings", p.Scan.Fail)
	} else {
		row("scan", "off")
	}

	section("Sign")
	if p.Sign.Enabled {
		row("mode", p.Sign.Mode)
		row("key", p.Sign.Key)
		row("fulcio", p.Sign.FulcioURL)
		row("format", p.Sign.Format)
		if p.Sign.TlogUpload {
			row("rekor", fmt.Sprintf("%s (API v%d)", p.Sign.RekorURL, p.Sign.RekorVersion))
		} else {
			row("rekor", "off (tlog-upload is false)")
		}
		row("timestamps", p.Sign.TimestampURL)
		row("attest", p.Sign.Attest)
	} else {
		row("sign", "off ("+p.Sign.Reason+")")
	}

	section("Report")
	row("comment", p.Report.Comment)
	row("files", p.Report.OutputDir)

	section("Steps")
	for i, s := range p.Steps {
		fmt.Fprintf(tw, "  %d. %s\t%s\n", i+1, s.Stage, s.Action)
	}
	if len(p.Warnings) > 0 {
		section("Warnings")
		for _, w := range p.Warnings {
			fmt.Fprintf(tw, "  - %s\n", w)
		}
	}
	return tw.Flush()
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shown renders values as they are displayed: what may carry a secret
// hides it in its String.
func shown[T fmt.Stringer](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// writeBuild writes the build section.
func (p *Plan) writeBuild(row func(string, any), section func(string)) {
	b := p.Build
	section("Build")
	row("context", b.Context)
	row("file", b.File)
	row("target", b.Target)
	row("platforms", b.Platforms)
	row("build-args", shown(b.BuildArgs))
	row("build-contexts", shown(b.BuildContexts))
	row("secrets", shown(b.Secrets))
	row("ssh", b.SSH)
	row("cache-from", shown(b.CacheFrom))
	row("cache-to", shown(b.CacheTo))
	row("no-cache / pull", fmt.Sprintf("%v / %v", b.NoCache, b.Pull))
	row("run steps", b.Run.String())
	row("provenance", b.Provenance)
	row("sbom", b.SBOM)
	row("builder", b.Builder)
	for _, n := range b.Nodes {
		how := strings.Join(n.Platforms, ", ")
		if n.Fallback {
			how += " (fallback: may emulate)"
		}
		row("  node "+n.Address, how)
	}
	row("output dir", b.OutputDir)
	row("outputs", shown(b.Outputs))
	if b.Load != nil {
		row("load", "into the Docker Engine at "+b.Load.DockerHost)
	}
	if b.Call != nil {
		row("call", b.Call.Shown()+" (builds nothing)")
	}
}
