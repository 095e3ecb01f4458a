package report

import (
	"github.com/google/go-containerregistry/pkg/name"

	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/severity"
	"github.com/slipway-ci/slipway/internal/units"
)

// CommentLimit is GitHub's limit on the body of an issue or pull request
// comment, in characters; GitLab's for a note is higher. The job summary
// and the comment are rendered under it.
const CommentLimit = 65536

// maxFindings is how many findings the table lists at most.
const maxFindings = 50

// maxErrorChars bounds the error quoted in the header, so that the header
// always fits.
const maxErrorChars = 2000

// Severities in the order the report lists them.
var severities = severity.Descending()

// Markdown renders the run as GitHub-flavoured Markdown for the job
// summary, slipway-summary.md and the PR/MR comment, in at most limit
// characters: when the whole does not fit, rows of the findings table are
// cut first, then the sections after the header; the header (status,
// error, context) is never cut.
func Markdown(p *pipeline.Plan, r *pipeline.Result, limit int) string {
	head := header(p, r)
	rows := findingRows(r.Scan)
	shown := min(len(rows), maxFindings)
	render := func(n int) string { return head + body(p, r, rows, n) }
	out := render(shown)
	if utf8.RuneCountInString(out) <= limit {
		return out
	}
	// The most rows that fit: rendering is monotonic in n.
	lo, hi := 0, shown
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if utf8.RuneCountInString(render(mid)) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if out = render(lo); utf8.RuneCountInString(out) <= limit {
		return out
	}
	// Not even without findings: cut the sections after the header.
	note := fmt.Sprintf("\n\n_… the rest is cut: the comment limit is %d characters; see slipway-report.json._\n", limit)
	budget := limit - utf8.RuneCountInString(head) - utf8.RuneCountInString(note)
	cut := truncateRunes(body(p, r, rows, 0), max(budget-4, 0))
	if strings.Count(cut, "```")%2 == 1 {
		cut += "\n```" // close a cut code block, so that the note shows
	}
	return head + cut + note
}

// header is the status line, the failure and what was built from where.
func header(p *pipeline.Plan, r *pipeline.Result) string {
	var b strings.Builder
	if r.Failed != nil {
		fmt.Fprintf(&b, "## ❌ slipway: failed at %s\n\n", r.Failed.Stage)
		for line := range strings.Lines(truncateRunes(r.Error, maxErrorChars)) {
			fmt.Fprintf(&b, "> %s\n", escHTML(strings.TrimRight(line, "\r\n")))
		}
		b.WriteString("\n")
	} else {
		b.WriteString("## ✅ slipway: passed\n\n")
	}
	b.WriteString(contextLine(&p.CI))
	if v := p.Metadata.Version.Main; v != "" {
		fmt.Fprintf(&b, " Version %s.", code(v))
	}
	b.WriteString("\n")
	return b.String()
}

// contextLine says which commit of what ran where, with a link to the run.
func contextLine(c *pipeline.CIPlan) string {
	var b strings.Builder
	if c.SHA != "" {
		b.WriteString("Commit " + code(shortSHA(c.SHA)))
	} else {
		b.WriteString("A run")
	}
	switch {
	case c.PR != 0:
		fmt.Fprintf(&b, " of %s", changeName(c.Provider, c.PR))
		if c.Branch != "" && c.BaseRef != "" {
			fmt.Fprintf(&b, " (%s → %s)", code(c.Branch), code(c.BaseRef))
		}
	case c.Tag != "":
		b.WriteString(", tag " + code(c.Tag))
	case c.Branch != "":
		b.WriteString(" on " + code(c.Branch))
	}
	if c.Repository != "" {
		b.WriteString(" of " + code(c.Repository))
	}
	where := providerName(c.Provider)
	if c.RunURL != "" {
		fmt.Fprintf(&b, ", [%s run](%s).", where, c.RunURL)
	} else {
		fmt.Fprintf(&b, ", %s.", where)
	}
	return b.String()
}

// promoteSection says what slipway promote moved, whose signature it
// verified and what its policy was judged on.
func promoteSection(b *strings.Builder, p *pipeline.Plan, r *pipeline.Result) {
	pr := p.Promote
	if pr == nil {
		return
	}
	fmt.Fprintf(b, "\n### Promoted\n\n%s, its signatures verified by %s", code(pr.Source.String()), pr.Identity)
	switch {
	case r.Scan == nil:
	case r.Scan.Source == pipeline.FromAttestations:
		fmt.Fprintf(b, "; its vulnerabilities from its signed report of %s", r.Scan.StartedAt.UTC().Format(time.RFC3339))
	case r.Scan.Source == pipeline.FromRemoteScan:
		b.WriteString("; its vulnerabilities from a fresh scan of it in its registry")
	}
	b.WriteString(".\n")
}

// body is every section after the header, with the first n findings rows.
func body(p *pipeline.Plan, r *pipeline.Result, rows []findingRow, n int) string {
	var b strings.Builder
	promoteSection(&b, p, r)
	callSection(&b, r)
	compareSection(&b, p, r)
	images(&b, p, r)
	if l := r.Load; l != nil {
		fmt.Fprintf(&b, "\nLoaded into the Docker Engine at %s as image %s", code(l.DockerHost), code(l.ImageID.String()))
		if len(l.Tags) > 0 {
			fmt.Fprintf(&b, ", tagged %s", code(joinTags(l.Tags)))
		}
		b.WriteString(".\n")
	}
	scan(&b, p, r, rows, n)
	sign(&b, p, r)
	if pr := r.Partial; pr != nil {
		fmt.Fprintf(&b, "\n### Partial result\n\n%s recorded as %s, for `slipway merge` (its `from`): %s\n", code(pr.Platform), code(pr.Record.String()), code(pr.Line()))
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n### Warnings\n\n")
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "- %s\n", oneLine(w))
		}
	}
	return b.String()
}

// callSection is what a call in place of the build returned: the
// Dockerfile checks' warnings, where they are, or where an outline or
// the targets went.
func callSection(b *strings.Builder, r *pipeline.Result) {
	c := r.Call
	switch {
	case c == nil:
		return
	case c.Call != "check":
		fmt.Fprintf(b, "\n### call: %s\n\nPrinted on the job's log (stdout); nothing was built.\n", c.Call)
		return
	}
	b.WriteString("\n### Dockerfile checks\n\n")
	if len(c.Warnings) == 0 {
		b.WriteString("No warning; nothing was built (call: check).\n")
		return
	}
	fmt.Fprintf(b, "%d %s; nothing was built (call: check).\n\n| Where | Check | Warning |\n|---|---|---|\n", len(c.Warnings), plural(len(c.Warnings), "warning", "warnings"))
	for _, w := range c.Warnings {
		rule := code(w.Rule)
		if w.URL != "" {
			rule = fmt.Sprintf("[%s](%s)", esc(w.Rule), w.URL)
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", code(w.Where()), rule, esc(w.Detail))
	}
	if c.Error != "" {
		b.WriteString("\nThe Dockerfile sets `check=error=true`: the run fails on them.\n")
	}
}

func images(b *strings.Builder, p *pipeline.Plan, r *pipeline.Result) {
	bd := r.Build
	if bd == nil {
		return
	}
	b.WriteString("\n### Image\n\n")
	if len(p.Publish.Repositories) > 0 {
		b.WriteString("| repository | digest | tags |\n|---|---|---|\n")
		for _, repo := range p.Publish.Repositories {
			digest, tags := "not pushed", "—"
			if img, ok := published(r, repo); ok {
				digest = code(bd.DigestStr())
				tags = tagCell(p, r, repo, img)
			} else if !p.Publish.Push {
				digest = "not pushed: " + esc(p.Publish.Reason)
			} else if r.Failed != nil {
				digest = "not pushed (the run failed first)"
			}
			fmt.Fprintf(b, "| %s | %s | %s |\n", code(repo.Name()), digest, tags)
		}
		b.WriteString("\n")
	}
	if bd.DigestStr() != "" && !p.Publish.Push {
		fmt.Fprintf(b, "Digest %s (local OCI layout %s).\n\n", code(bd.DigestStr()), code(bd.LayoutDir))
	}
	if len(bd.Platforms) > 0 {
		b.WriteString("| platform | manifest | size |\n|---|---|---:|\n")
		for _, pi := range bd.Platforms {
			fmt.Fprintf(b, "| %s | %s | %s |\n", esc(pi.Platform), code(pi.Digest.String()), units.Bytes(pi.Size))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "Built in %s", duration(bd.Duration))
	if bd.Steps > 0 {
		fmt.Fprintf(b, "; cache: %d of %d steps cached (%d%%)", bd.CachedSteps, bd.Steps, bd.CachedSteps*100/bd.Steps)
	}
	b.WriteString(".\n")
	if len(bd.Nodes) > 0 {
		b.WriteString("\n| built by | platforms | in | steps cached |\n|---|---|---:|---:|\n")
		for _, n := range bd.Nodes {
			fmt.Fprintf(b, "| %s | %s | %s | %d of %d |\n", code(n.Address), esc(strings.Join(n.Platforms, ", ")), duration(n.Duration), n.CachedSteps, n.Steps)
		}
	}
}

// tagCell lists the tags moved in repo, or says why they did not move.
func tagCell(p *pipeline.Plan, r *pipeline.Result, repo name.Repository, img pipeline.PublishedImage) string {
	if len(img.Tags) > 0 {
		var names []string
		for _, t := range img.Tags {
			names = append(names, code(t.TagStr()))
		}
		return strings.Join(names, ", ")
	}
	planned := p.Publish.TagsIn(repo)
	switch {
	case len(planned) == 0:
		return "none"
	case r.Failed != nil:
		return fmt.Sprintf("not moved (%d planned)", len(planned))
	}
	return "—"
}

func published(r *pipeline.Result, repo name.Repository) (pipeline.PublishedImage, bool) {
	for _, img := range r.Images {
		if img.Repository == repo {
			return img, true
		}
	}
	return pipeline.PublishedImage{}, false
}

func scan(b *strings.Builder, p *pipeline.Plan, r *pipeline.Result, rows []findingRow, n int) {
	s := r.Scan
	if s == nil {
		if !p.Scan.Enabled {
			b.WriteString("\nNot scanned (scan is false).\n")
		}
		return
	}
	b.WriteString("\n### Vulnerabilities\n\n")
	mark := "✅"
	if !s.Passed {
		mark = "❌"
	}
	fmt.Fprintf(b, "%s %s\n\n", mark, oneLine(s.Verdict))
	b.WriteString("| " + strings.Join(severity.Strings(severities), " | ") + " |\n|---:|---:|---:|---:|---:|\n|")
	for _, sev := range severities {
		fmt.Fprintf(b, " %d |", s.Counts[sev])
	}
	b.WriteString("\n")
	var left []string
	if s.Ignored > 0 {
		left = append(left, fmt.Sprintf("%d ignored by the ignore files", s.Ignored))
	}
	if s.Unfixed > 0 {
		left = append(left, fmt.Sprintf("%d without a fix left out (ignore-unfixed)", s.Unfixed))
	}
	if len(left) > 0 {
		fmt.Fprintf(b, "\nNot counted: %s.\n", strings.Join(left, "; "))
	}
	if len(rows) == 0 {
		return
	}
	open := ""
	if len(s.Blocking) > 0 && !s.Passed {
		open = " open"
	}
	fmt.Fprintf(b, "\n<details%s><summary>Top findings: %d blocking, %d in all</summary>\n\n", open, len(s.Blocking), len(rows))
	if n > 0 {
		b.WriteString("| | severity | vulnerability | package | installed | fixed in | platforms |\n|---|---|---|---|---|---|---|\n")
		for _, row := range rows[:n] {
			b.WriteString(row.md)
		}
		b.WriteString("\n")
	}
	if n < len(rows) {
		fmt.Fprintf(b, "_%d more not shown (the summary is limited to %d rows and %d characters): see the scan reports._\n\n", len(rows)-n, maxFindings, CommentLimit)
	}
	b.WriteString("</details>\n")
}

// findingRow is one rendered row of the findings table.
type findingRow struct{ md string }

// findingRows lists the blocking findings first, then the others, each
// once, rendered.
func findingRows(s *pipeline.ScanResult) []findingRow {
	if s == nil {
		return nil
	}
	seen := map[string]bool{}
	var rows []findingRow
	add := func(f pipeline.Finding, blocking bool) {
		key := f.ID + "\x00" + f.Package + "\x00" + f.Installed + "\x00" + f.Path
		if seen[key] {
			return
		}
		seen[key] = true
		mark, id := "", esc(f.ID)
		if blocking {
			mark = "⛔"
		}
		if f.URL != "" {
			id = fmt.Sprintf("[%s](%s)", id, f.URL)
		}
		pkg := esc(f.Package)
		if f.Path != "" {
			pkg += " (" + code(f.Path) + ")"
		}
		fixed := esc(f.Fixed)
		if fixed == "" {
			fixed = "—"
			if f.Status != "" {
				fixed = "— (" + esc(f.Status) + ")"
			}
		}
		rows = append(rows, findingRow{fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |\n",
			mark, esc(f.Severity.String()), id, pkg, esc(f.Installed), fixed, esc(strings.Join(f.Platforms, ", ")))})
	}
	for _, f := range s.Blocking {
		add(f, true)
	}
	for _, f := range s.Findings {
		add(f, false)
	}
	return rows
}

func sign(b *strings.Builder, p *pipeline.Plan, r *pipeline.Result) {
	s := r.Sign
	if s == nil {
		if !p.Sign.Enabled && p.Sign.Reason != "" {
			fmt.Fprintf(b, "\nNot signed: %s.\n", oneLine(p.Sign.Reason))
		}
		return
	}
	b.WriteString("\n### Signature\n\n")
	state := "signed, not verified"
	if s.Verified {
		state = "✅ signed and verified"
	}
	fmt.Fprintf(b, "%s (%s", state, esc(string(s.Mode)))
	if s.Identity != "" {
		fmt.Fprintf(b, ", %s", code(s.Identity))
	}
	if s.TlogIndex >= 0 {
		fmt.Fprintf(b, ", transparency log index %d", s.TlogIndex)
	}
	b.WriteString(").\n")
	if len(s.Signatures) > 0 {
		b.WriteString("\nSignatures:\n")
		for _, sig := range s.Signatures {
			fmt.Fprintf(b, "- %s\n", code(sig.String()))
		}
	}
	if len(s.Attestations) > 0 {
		b.WriteString("\nAttestations:\n")
		for _, a := range s.Attestations {
			fmt.Fprintf(b, "- %s (%s) of %s", esc(a.Type), code(a.PredicateType), code(a.Subject))
			if a.Platform != "" {
				fmt.Fprintf(b, ", %s", esc(a.Platform))
			}
			b.WriteString("\n")
		}
	}
	if s.VerifyCommand != "" || s.VerifyAttestationCommand != "" {
		b.WriteString("\nVerify:\n\n```sh\n")
		for _, c := range []string{s.VerifyCommand, s.VerifyAttestationCommand} {
			if c != "" {
				b.WriteString(strings.TrimRight(c, "\n") + "\n")
			}
		}
		b.WriteString("```\n")
	}
}

// changeName names a change request as its platform does.
func changeName(provider string, n int) string {
	if provider == ci.NameGitLab {
		return fmt.Sprintf("merge request !%d", n)
	}
	return fmt.Sprintf("pull request #%d", n)
}

func providerName(provider string) string {
	switch provider {
	case ci.NameGitHub:
		return "GitHub Actions"
	case ci.NameGitLab:
		return "GitLab CI"
	case ci.NameJenkins:
		return "Jenkins"
	case ci.NameLocal:
		return "local"
	}
	return provider
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// esc makes s safe in a table cell: one line, no pipe, no HTML.
func esc(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// code is s as a code span in a table cell.
func code(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("`", "'", "|", `\|`, "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return "`" + s + "`"
}

// oneLine joins the lines of s with spaces, for list items.
func oneLine(s string) string { return strings.Join(strings.Fields(escHTML(s)), " ") }

// escHTML keeps s from opening or closing an HTML element.
func escHTML(s string) string { return strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s) }

// truncateRunes cuts s to at most n characters, the last an ellipsis when
// cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func duration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Second).String()
	case d > 0:
		return d.Round(time.Millisecond).String()
	}
	return "0s"
}

// plural is one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// joinTags renders tags for a person: "a:1, a:latest".
func joinTags(tags []name.Tag) string {
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}
