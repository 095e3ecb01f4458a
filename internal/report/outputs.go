package report

import (
	"github.com/slipway-ci/slipway/internal/artifact"

	"github.com/google/go-containerregistry/pkg/name"

	"encoding/json"
	"fmt"
	"strings"

	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// stepOutputs lists the GitHub step outputs of a run, in order:
//
//   - digest, imageid (see imageID), metadata (buildx's metadata file),
//     images (repository@digest in every repository the digest reached,
//     one per line);
//   - version, tags, tag-names, labels, annotations, json: metadata-action's,
//     as meta.Result.Outputs makes them (`slipway meta` sets the same;
//     `slipway run` sets them here only, once);
//   - vulnerabilities-critical, -high, -medium, -low, -unknown;
//   - sbom and sarif (the scan's files, one per line);
//   - with a comparison (compare-to): vulnerabilities-new-critical, -high,
//     -medium, -low, -unknown, vulnerabilities-fixed, size-delta-bytes and
//     compare-base (the base's repository@digest);
//   - partial-result; report (the path of slipway-report.json);
//   - signature (the reference of the digest's signature manifest in the
//     repository signed in), attestations (the references of the
//     attestation manifests there, one per line), verify-command; every
//     signature and attestation is in slipway-report.json.
//
// An output whose stage did not run is left unset.
func stepOutputs(r *pipeline.Result, md *meta.Result, f facts, primary name.Repository, reportPath string) ([][2]string, error) {
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	if b := r.Build; b != nil {
		js, err := json.Marshal(b.Metadata)
		if err != nil {
			return nil, fmt.Errorf("encoding the build metadata: %w", err)
		}
		add("digest", b.DigestStr())
		add("imageid", f.imageID)
		add("metadata", string(js))
		var refs []string
		for _, img := range r.Images {
			refs = append(refs, img.Ref.String())
		}
		add("images", strings.Join(refs, "\n"))
	}
	if md != nil {
		kvs, err := md.Outputs()
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			add(kv.Key, kv.Value)
		}
	}
	if s := r.Scan; s != nil {
		for _, sev := range severities {
			add("vulnerabilities-"+strings.ToLower(sev.String()), fmt.Sprint(s.Counts[sev]))
		}
		add("sbom", strings.Join(f.sbom, "\n"))
		add("sarif", strings.Join(f.sarif, "\n"))
	}
	for _, kv := range compareOutputs(r.Compare) {
		add(kv[0], kv[1])
	}
	if pr := r.Partial; pr != nil {
		add("partial-result", pr.Line())
	}
	add("report", reportPath)
	if s := r.Sign; s != nil {
		add("signature", f.signature)
		add("attestations", strings.Join(attestationRefs(s, primary), "\n"))
		add("verify-command", s.VerifyCommand)
	}
	return out, nil
}

// attestationRefs are the references of the attestation manifests in
// the repository signed in.
func attestationRefs(s *pipeline.SignResult, repo name.Repository) []string {
	var refs []string
	for _, a := range s.Artifacts {
		if a.Kind == artifact.Attestation && repo != (name.Repository{}) {
			refs = append(refs, a.In(repo).String())
		}
	}
	return refs
}
