package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sys/unix"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/csvlist"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/severity"
)

// Validate checks every input's form; it reads nothing. The first problem
// is returned as an *errs.InputError.
func (c *Config) Validate() error {
	for _, in := range Inputs() {
		if len(in.Enum) == 0 {
			continue
		}
		v := fieldValue(c, in).String()
		if !slices.Contains(in.Enum, v) {
			return errs.Input(in.Name, "expected one of %s, got %q", strings.Join(in.Enum, ", "), v)
		}
	}
	checks := []func() error{
		c.validatePlatforms,
		c.validateKeyValues,
		c.validateSecrets,
		c.validateCache,
		c.validateAttestations,
		c.validateBuilder,
		c.validateRetry,
		func() error { _, err := c.RunSettings(); return err },
		func() error { _, _, err := c.BuildOutputs(); return err },
		func() error { _, err := c.CallRequest(); return err },
		func() error { _, err := c.MaxReportAge(); return err },
		c.validateScan,
		c.validateSign,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// ValidateBuild checks what only a build needs: the context directory and
// the Dockerfile (default <context>/Dockerfile, filled in here) exist.
func (c *Config) ValidateBuild() error {
	st, err := os.Stat(c.Context)
	if err != nil || !st.IsDir() {
		return errs.Input("context", "%q is not a directory (expected the build context: a local directory)", c.Context)
	}
	if c.File == "" {
		c.File = filepath.Join(c.Context, "Dockerfile")
	}
	if st, err := os.Stat(c.File); err != nil || st.IsDir() {
		return errs.Input("file", "%q is not a readable file (expected the path to a Dockerfile)", c.File)
	}
	for _, f := range c.TrivyIgnores {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			return errs.Input("trivyignores", "%q is not a readable file (expected a .trivyignore or .trivyignore.yaml file)", f)
		}
	}
	return nil
}

// Platform OS and architecture names BuildKit (containerd's platforms
// package) knows.
var (
	platformOS   = []string{"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix", "android", "ios", "plan9", "js", "wasip1", "dragonfly"}
	platformArch = []string{"amd64", "arm64", "arm", "386", "ppc64le", "ppc64", "s390x", "riscv64", "mips64le", "mips64", "mipsle", "mips", "loong64", "wasm"}
	platformRE   = regexp.MustCompile(`^[a-z0-9]+(/[a-z0-9_]+(/[a-z0-9.]+)?)?$`)
)

func (c *Config) validatePlatforms() error {
	seen := map[string]bool{}
	for _, p := range c.Platforms {
		if !platformRE.MatchString(p) {
			return errs.Input("platforms", "%q is not a platform (expected os/arch[/variant], e.g. linux/amd64)", p)
		}
		parts := strings.Split(p, "/")
		if !slices.Contains(platformOS, parts[0]) {
			return errs.Input("platforms", "%q has an unknown OS %q (expected os/arch[/variant], e.g. linux/amd64)", p, parts[0])
		}
		if len(parts) > 1 && !slices.Contains(platformArch, parts[1]) {
			return errs.Input("platforms", "%q has an unknown architecture %q (expected one of %s)", p, parts[1], strings.Join(platformArch, ", "))
		}
		if seen[p] {
			return errs.Input("platforms", "%q is listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

var argNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

func (c *Config) validateKeyValues() error {
	for _, kv := range []struct {
		input   string
		entries []string
		needVal bool
	}{
		{"build-args", c.BuildArgs, false},
		{"build-contexts", c.BuildContexts, true},
		{"secret-files", c.SecretFiles, true},
		{"secret-envs", c.SecretEnvs, true},
	} {
		for _, e := range kv.entries {
			k, v, ok := strings.Cut(e, "=")
			if k == "" || (kv.needVal && (!ok || v == "")) {
				return errs.Input(kv.input, "%q is not KEY=value", redactValue(e))
			}
			if kv.input == "build-args" && !argNameRE.MatchString(k) {
				return errs.Input(kv.input, "%q is not a valid build argument name", k)
			}
		}
	}
	_, err := c.RegistryLogins()
	return err
}

// redactValue keeps the key of a KEY=value entry and hides the value.
func redactValue(e string) string {
	if k, _, ok := strings.Cut(e, "="); ok {
		return k + "=***"
	}
	return e
}

func (c *Config) validateSecrets() error {
	_, err := c.BuildSecrets()
	return err
}

var cacheTypes = []string{"registry", "local", "inline", "gha", "s3", "azblob"}

func (c *Config) validateCache() error {
	for _, x := range []struct {
		input   string
		entries []string
	}{{"cache-from", c.CacheFrom}, {"cache-to", c.CacheTo}} {
		for i, e := range x.entries {
			kv, err := attrs.CacheEntry(e, x.input == "cache-from")
			if err != nil {
				return errs.WrapInput(x.input, err, "entry %d (%q) is malformed", i+1, attrs.Redact(e))
			}
			if t := kv["type"]; !slices.Contains(cacheTypes, t) {
				return errs.Input(x.input, "entry %d (%q): unknown cache type %q (expected type= one of %s)", i+1, attrs.Redact(e), t, strings.Join(cacheTypes, ", "))
			}
			if need := cacheNeeds(kv["type"], x.input == "cache-to"); need != "" && kv[need] == "" {
				return errs.Input(x.input, "entry %d (%q): type=%s needs %s=", i+1, attrs.Redact(e), kv["type"], need)
			}
		}
	}
	return nil
}

func (c *Config) validateAttestations() error {
	switch strings.ToLower(c.Provenance) {
	case "", "true", "false", "1", "0":
	default:
		kv, err := attrs.Parse(c.Provenance)
		if err != nil {
			return errs.Input("provenance", "%q: expected true, false, mode=min or mode=max", c.Provenance)
		}
		if err := checkAttestKeys("provenance", kv); err != nil {
			return errs.Input("provenance", "%q: %v (expected true, false, mode=min or mode=max)", c.Provenance, err)
		}
	}
	switch strings.ToLower(c.SBOM) {
	case "", "true", "false", "1", "0":
	default:
		kv, err := attrs.Parse(c.SBOM)
		if err != nil || kv["generator"] == "" {
			return errs.Input("sbom", "%q: expected true, false or generator=<image>", c.SBOM)
		}
	}
	_, _, err := c.Attestations()
	return err
}

// attestKeys are the attributes BuildKit's attestations take, by type
// (buildx passes every one but type and disabled on as attest:<type>).
var attestKeys = map[string][]string{
	"provenance": {"mode", "builder-id", "version", "disabled", "reproducible", "inline-only", "filename"},
	"sbom":       {"generator", "disabled", "scan-context", "scan-stage"},
}

func checkAttestKeys(typ string, kv map[string]string) error {
	for k, v := range kv {
		switch {
		case k == "type":
		case !slices.Contains(attestKeys[typ], k):
			return fmt.Errorf("%s is not an attribute of a %s attestation (expected %s)", k, typ, strings.Join(attestKeys[typ], ", "))
		case k == "mode" && v != "min" && v != "max":
			return fmt.Errorf("mode %q is not min or max", v)
		}
	}
	return nil
}

// Attestations are the provenance and sbom attestations the build asks
// for, merged from provenance, sbom and attests as build-push-action
// merges them: its provenance and sbom inputs come first and buildx keeps
// the first entry of a type, so an attests entry counts only where that
// input is left at its default (build-push-action's have none). An entry
// with disabled=true turns its type off. Errors name attests.
func (c *Config) Attestations() (provenance, sbom string, err error) {
	provenance, sbom = c.Provenance, c.SBOM
	pin, _ := Lookup("provenance")
	sin, _ := Lookup("sbom")
	seen := map[string]bool{}
	for _, e := range c.Attests {
		kv, err := attrs.Parse(e)
		if err != nil {
			return "", "", errs.Input("attests", "%q: %v", e, err)
		}
		typ := kv["type"]
		if _, ok := attestKeys[typ]; !ok {
			return "", "", errs.Input("attests", "%q: type %q is not an attestation BuildKit makes (expected type=provenance or type=sbom)", e, typ)
		}
		if err := checkAttestKeys(typ, kv); err != nil {
			return "", "", errs.Input("attests", "%q: %v", e, err)
		}
		if seen[typ] {
			continue // buildx keeps the first of a type
		}
		seen[typ] = true
		value := attestValue(e, kv)
		switch {
		case typ == "provenance" && c.Provenance == pin.Default:
			provenance = value
		case typ == "sbom" && c.SBOM == sin.Default:
			sbom = value
		}
	}
	return provenance, sbom, nil
}

// attestValue is an attests entry as the provenance or sbom input's
// value: false when disabled, true for no attribute, else the attributes
// but type, in the entry's order.
func attestValue(e string, kv map[string]string) string {
	if d, _ := strconv.ParseBool(kv["disabled"]); d {
		return "false"
	}
	fields, _ := csvlist.Split(e, csvlist.Opts{}) // attrs.Parse read it
	var rest []string
	for _, f := range fields {
		k, _, _ := strings.Cut(f, "=")
		if k = strings.ToLower(strings.TrimSpace(k)); k != "type" && k != "disabled" {
			rest = append(rest, strings.TrimSpace(f))
		}
	}
	if len(rest) == 0 {
		return "true"
	}
	return strings.Join(rest, ",")
}

func (c *Config) validateBuilder() error {
	nodes, err := attrs.ParseBuilder(c.Builder)
	if err != nil {
		return errs.Input("builder", "%s", err.Error())
	}
	if len(nodes) == 0 {
		return nil
	}
	if _, err := attrs.AssignPlatforms(nodes, c.Platforms); err != nil {
		return errs.Input("builder", "%s", err.Error())
	}
	return nil
}

func (c *Config) validateRetry() error {
	_, err := c.RetryTime()
	return err
}

// RetryTime is the registry-retry-time input as a duration.
func (c *Config) RetryTime() (time.Duration, error) {
	d, err := time.ParseDuration(c.RegistryRetry)
	if err != nil || d < 0 || d > 24*time.Hour {
		return 0, errs.Input("registry-retry-time", "%q is not a duration between 0 and 24h (expected e.g. 2m or 90s)", c.RegistryRetry)
	}
	return d, nil
}

// MaxReportAge is the report-max-age input.
func (c *Config) MaxReportAge() (time.Duration, error) {
	d, err := time.ParseDuration(c.ReportMaxAge)
	if err != nil || d < 0 {
		return 0, errs.Input("report-max-age", "%q is not a duration (expected e.g. 24h or 30m)", c.ReportMaxAge)
	}
	return d, nil
}

func (c *Config) validateScan() error {
	for _, r := range c.ScanDBRepository {
		if _, err := name.ParseReference(r); err != nil {
			return errs.Input("scan-db-repository", "%q is not an image reference (expected e.g. mirror.example.com/aquasec/trivy-db:2)", r)
		}
	}
	for i, s := range c.Severity {
		sev, err := severity.Parse(s)
		if err != nil {
			return errs.Input("severity", "%s", err.Error())
		}
		c.Severity[i] = sev.String()
	}
	return nil
}

func (c *Config) validateSign() error {
	if strings.Contains(c.CosignKey, "-----BEGIN") {
		// The key itself, not where it is: never echo it.
		return errs.Input("cosign-key", "holds a PEM key itself (expected a file path, or env://VAR naming the variable that holds the PEM)")
	}
	for _, u := range []struct{ input, v string }{{"fulcio-url", c.FulcioURL}, {"rekor-url", c.RekorURL}, {"timestamp-server-url", c.TimestampServerURL}} {
		p, err := url.Parse(u.v)
		if u.v == "" {
			continue
		}
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return errs.Input(u.input, "%q is not an http(s) URL", u.v)
		}
	}
	if c.TlogUpload && c.RekorVersion == "2" && c.SignatureFormat.Legacy() {
		return errs.Input("signature-format", "%s writes cosign's legacy signatures, whose log entry is a Rekor v1 one, but rekor-version is 2 (expected signature-format: bundle with a Rekor v2 log, or rekor-version: 1)", c.SignatureFormat)
	}
	if c.TimestampServerURL != "" && !c.SignatureFormat.Bundle() {
		return errs.Input("timestamp-server-url", "timestamps Sigstore bundles, but signature-format is %s (expected signature-format: bundle or both)", c.SignatureFormat)
	}
	return nil
}

// SecretValues returns every secret value among the inputs and what
// they refer to (tokens, registry passwords, build secrets inline or from
// the environment, credentials in cache entries, the Actions runtime
// token), for masking and redaction. Malformed entries contribute what
// can be read of them.
func (l *Loaded) SecretValues() []string {
	var out []string
	add := func(v string) {
		if v != "" {
			out = append(out, v)
		}
	}
	add(l.GitHubToken)
	add(l.GitLabToken)
	for _, e := range l.RegistryAuth {
		if !strings.Contains(e, "=") {
			// No host: the entry may be user:password; mask its password
			// part, and the entry whole.
			_, pw, _ := strings.Cut(e, ":")
			add(pw)
			add(e)
			continue
		}
		l, _ := parseLogin(e)
		add(l.Password)
	}
	secrets, _ := l.BuildSecrets()
	for _, s := range secrets {
		add(s.Value)
		if s.Env != "" {
			v, _ := l.env.Lookup(s.Env)
			add(v)
		}
	}
	for _, e := range append(append([]string{}, l.CacheFrom...), l.CacheTo...) {
		kv, _ := attrs.Parse(e)
		for _, k := range attrs.CredentialKeys {
			add(kv[k])
		}
	}
	for _, e := range l.BuildContexts {
		_, v, _ := strings.Cut(e, "=")
		if u, err := url.Parse(v); err == nil && u.User != nil {
			pw, _ := u.User.Password()
			add(pw)
			if pw == "" {
				add(u.User.Username()) // a token given as the user
			}
		}
	}
	gha, _ := l.GHACache()
	add(gha.Token)
	for _, v := range l.signingSecrets() {
		add(v)
	}
	return out
}

// cacheNeeds is the attribute BuildKit's cache backend of type t cannot
// work without, for an export or an import.
func cacheNeeds(t string, export bool) string {
	switch t {
	case "registry":
		return "ref"
	case "local":
		if export {
			return "dest"
		}
		return "src"
	case "s3":
		return "bucket"
	case "azblob":
		return "account_url"
	}
	return ""
}

// DropUnusableCache removes the type=gha cache entries that cannot work
// here (no GitHub Actions runtime token, none given), calling warn for
// each: cache problems are warnings, never a failed build.
func (l *Loaded) DropUnusableCache(warn func(string)) {
	_, ok := l.GHACache()
	drop := func(input string, entries []string) []string {
		return slices.DeleteFunc(entries, func(e string) bool {
			kv, err := attrs.Parse(e)
			if err != nil || kv["type"] != "gha" || ok || kv["token"] != "" {
				return false
			}
			warn(fmt.Sprintf("%s entry %s ignored: type=gha needs the GitHub Actions runtime (ACTIONS_RUNTIME_TOKEN), which this job does not have", input, attrs.Redact(e)))
			return true
		})
	}
	l.CacheFrom = drop("cache-from", l.CacheFrom)
	l.CacheTo = drop("cache-to", l.CacheTo)
}

// CheckPaths checks, before anything is built or contacted, every path
// the inputs name: files and directories that must exist are there and of
// the right kind, and the directories slipway writes can be created. Each
// problem is one *errs.InputError naming the input the user gave.
func (l *Loaded) CheckPaths() error {
	secrets, err := l.BuildSecrets()
	if err != nil {
		return err
	}
	nSecrets := len(l.Secrets)
	for i, s := range secrets {
		if s.Src == "" {
			continue
		}
		input := "secrets"
		if i >= nSecrets {
			input = "secret-files"
		}
		if err := needFile(input, s.Src, fmt.Sprintf("the file of secret %q", s.ID)); err != nil {
			return err
		}
	}
	for _, e := range l.BuildContexts {
		name, v, _ := strings.Cut(e, "=")
		if attrs.RemoteContext(v) {
			continue
		}
		if st, err := os.Stat(v); err != nil || !st.IsDir() {
			return errs.Input("build-contexts", "context %q: %q is not a directory (expected a local directory, docker-image://, oci-layout://, target: or a Git/HTTPS URL)", name, v)
		}
	}
	for _, e := range l.SSH {
		id, path, ok := strings.Cut(e, "=")
		if !ok || path == "" {
			if sock, set := l.env.Lookup("SSH_AUTH_SOCK"); !set || sock == "" {
				return errs.Input("ssh", "%q forwards the SSH agent, but SSH_AUTH_SOCK is not set (start an agent, or give id=<key or socket path>)", e)
			}
			continue
		}
		if _, err := os.Stat(path); err != nil {
			return errs.Input("ssh", "%s: %q does not exist (expected an SSH key file or an agent socket)", id, path)
		}
	}
	for _, f := range []struct{ input, path, what string }{
		{"builder-tls-ca", l.BuilderTLSCA, "the CA certificate (PEM)"},
		{"builder-tls-cert", l.BuilderTLSCert, "the client certificate (PEM)"},
		{"builder-tls-key", l.BuilderTLSKey, "the client key (PEM)"},
		{"trusted-root", l.TrustedRoot, "a Sigstore trusted_root.json"},
	} {
		if f.path == "" {
			continue
		}
		if err := needFile(f.input, f.path, f.what); err != nil {
			return err
		}
	}
	if err := writableDir("output-dir", l.OutputDir); err != nil {
		return err
	}
	if l.Scan && l.ScanCacheDir != "" {
		if err := writableDir("scan-cache-dir", l.ScanCacheDir); err != nil {
			return err
		}
	}
	return nil
}

// needFile checks that path is a readable regular file.
func needFile(input, path, what string) error {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return errs.Input(input, "%q does not exist (expected %s)", path, what)
	case st.IsDir():
		return errs.Input(input, "%q is a directory (expected %s)", path, what)
	}
	f, err := os.Open(path)
	if err != nil {
		return errs.Input(input, "%q cannot be read (expected %s): %v", path, what, errors.Unwrap(err))
	}
	f.Close()
	return nil
}

// writableDir checks that slipway can write the directory path: it is a
// directory, or the nearest existing one above it is and can be written.
func writableDir(input, path string) error {
	p := filepath.Clean(path)
	for {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				if p == filepath.Clean(path) {
					return errs.Input(input, "%q is a file (expected a directory slipway can write)", path)
				}
				return errs.Input(input, "%q cannot be created: %q is a file", path, p)
			}
			if unix.Access(p, unix.W_OK|unix.X_OK) != nil {
				return errs.Input(input, "%q cannot be written (no write permission on %q)", path, p)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return errs.Input(input, "%q cannot be created: %v", path, errors.Unwrap(err))
		}
		parent := filepath.Dir(p)
		if parent == p {
			return errs.Input(input, "%q cannot be created", path)
		}
		p = parent
	}
}

// RunSettings reads how the RUN steps run (add-hosts, network, shm-size,
// ulimit, cgroup-parent, no-cache-filters, allow) as buildx does; an
// error names the input.
func (c *Config) RunSettings() (attrs.RunSettings, error) {
	var r attrs.RunSettings
	for _, h := range c.AddHosts {
		kv, err := attrs.ParseAddHost(h)
		if err != nil {
			return r, errs.Input("add-hosts", "%v", err)
		}
		r.AddHosts = append(r.AddHosts, kv)
	}
	var err error
	if r.Network, err = attrs.ParseNetwork(c.Network); err != nil {
		return r, errs.Input("network", "%v", err)
	}
	if c.ShmSize != "" {
		if r.ShmSize, err = attrs.ParseShmSize(c.ShmSize); err != nil {
			return r, errs.Input("shm-size", "%v", err)
		}
	}
	if r.Ulimits, err = attrs.ParseUlimits(c.Ulimits); err != nil {
		return r, errs.Input("ulimit", "%v", err)
	}
	r.CgroupParent = c.CgroupParent
	if len(c.NoCacheFilters) > 0 && c.NoCache {
		return r, errs.Input("no-cache-filters", "no-cache rebuilds every stage already (expected one of no-cache and no-cache-filters, as buildx)")
	}
	r.NoCacheFilters = c.NoCacheFilters
	for _, a := range c.Allow {
		if err := attrs.ParseEntitlement(a); err != nil {
			return r, errs.Input("allow", "%v", err)
		}
		r.Entitlements = append(r.Entitlements, a)
	}
	if r.Network == "host" && !slices.Contains(r.Entitlements, "network.host") {
		// As buildx: network host asks for its entitlement.
		r.Entitlements = append(r.Entitlements, "network.host")
	}
	return r, nil
}

// BuildOutputs reads the outputs entries, as buildx does, and whether the
// image is loaded into the Docker Engine (load, or an outputs entry
// type=docker without dest, as buildx's --load); an error names the
// input. Loading takes one platform.
func (c *Config) BuildOutputs() (outs []attrs.Output, load bool, err error) {
	load = c.Load
	input := "load"
	for _, e := range c.Outputs {
		o, l, err := attrs.ParseOutput(e)
		if err != nil {
			return nil, false, errs.Input("outputs", "%v", err)
		}
		if l {
			load, input = true, "outputs"
			continue
		}
		outs = append(outs, o)
	}
	if load && len(c.Platforms) > 1 {
		return nil, false, errs.Input(input, "the Docker Engine loads one platform, but platforms has %d (expected one platform, or load: false and docker pull by digest in the next step)", len(c.Platforms))
	}
	return outs, load, nil
}

// CallRequest reads the call input as buildx's --call; nil for a build.
func (c *Config) CallRequest() (*attrs.Call, error) {
	call, err := attrs.ParseCall(c.Call)
	if err != nil {
		return nil, errs.Input("call", "%v", err)
	}
	return call, nil
}
