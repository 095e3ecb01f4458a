// Package config assembles slipway's one Config from, in order of
// precedence: command-line flags, SLIPWAY_<NAME> environment variables,
// GitHub Actions INPUT_<NAME> variables, a config file (.slipway.yaml in the
// build context, or --config), and defaults; then validates it up front.
//
// Every input is a field of Config carrying an `input` struct tag, so the
// flags, the environment names, the config-file keys, the action.yml inputs
// and the README table all come from this one declaration.
package config

import "github.com/slipway-ci/slipway/internal/mode"

// Config is every input of slipway. Field tags:
//
//	input:"name"      the input's name (flag, config key; env SLIPWAY_NAME, INPUT_NAME)
//	list:"comma"      a list whose CSV fields are separate entries (platforms)
//	list:"lines"      a list whose CSV records are entries (tag rules: "type=ref,event=pr")
//	comment:"#"       '#' starts a comment in the list
//	default:"..."     the default value
//	secret:"true"     never printed; masked in CI logs
//	enum:"a|b|c"      allowed values
//	desc:"..."        one-line description (action.yml, README, --help)
//	action:"..."      action.yml's default when it is not the default (${{ github.token }})
type Config struct {
	// CI
	CI          string `input:"ci" default:"auto" enum:"auto|github|gitlab|jenkins|local" desc:"CI platform to read the context from; auto detects it"`
	GitHubToken string `input:"github-token" secret:"true" action:"${{ github.token }}" desc:"Token for the GitHub API (repository metadata, PR comment); defaults to GITHUB_TOKEN"`
	GitLabToken string `input:"gitlab-token" secret:"true" desc:"Token for the GitLab API (MR note); CI_JOB_TOKEN cannot post notes"`
	OutputDir   string `input:"output-dir" desc:"Directory for the OCI layout, reports and machine-readable results"`

	// Metadata (docker/metadata-action)
	Images         []string `input:"images" list:"lines" comment:"#" desc:"Image repositories to publish to (metadata-action syntax: name=...,enable=...); on GitLab defaults to CI_REGISTRY_IMAGE"`
	Tags           []string `input:"tags" list:"lines" comment:"#" desc:"Tag rules in metadata-action syntax; empty: sha-<short>, semver, branch, pr-<n>, nightly and latest"`
	Flavor         []string `input:"flavor" list:"lines" comment:"#" desc:"Flavor in metadata-action syntax (latest=auto|true|false, prefix=, suffix=)"`
	Labels         []string `input:"labels" list:"lines" comment:"#" desc:"Extra image labels (key=value), overriding the generated org.opencontainers.image.* ones"`
	Annotations    []string `input:"annotations" list:"lines" comment:"#" desc:"Extra annotations (key=value, optionally level-prefixed as manifest:key=value)"`
	SepTags        string   `input:"sep-tags" desc:"Separator of the tags output (default newline)"`
	SepLabels      string   `input:"sep-labels" desc:"Separator of the labels output (default newline)"`
	SepAnnotations string   `input:"sep-annotations" desc:"Separator of the annotations output (default newline)"`

	// Build (docker/build-push-action)
	Context        string      `input:"context" default:"." desc:"Build context: a local directory"`
	File           string      `input:"file" desc:"Path to the Dockerfile (default <context>/Dockerfile)"`
	Target         string      `input:"target" desc:"Build stage to build"`
	BuildArgs      []string    `input:"build-args" list:"lines" desc:"Build arguments (KEY=value)"`
	BuildContexts  []string    `input:"build-contexts" list:"lines" desc:"Named build contexts (name=path or name=docker-image://ref)"`
	Secrets        []string    `input:"secrets" list:"lines" secret:"true" desc:"Build secrets: id=x,src=file / id=x,env=VAR, or build-push-action's KEY=value"`
	SecretFiles    []string    `input:"secret-files" list:"lines" desc:"Build secrets from files (KEY=path), as build-push-action"`
	SecretEnvs     []string    `input:"secret-envs" list:"comma" desc:"Build secrets from environment variables (KEY=VAR), as build-push-action"`
	SSH            []string    `input:"ssh" list:"comma" desc:"SSH agent sockets or keys to forward (default or id=path)"`
	Platforms      []string    `input:"platforms" list:"comma" desc:"Target platforms (linux/amd64,linux/arm64)"`
	CacheFrom      []string    `input:"cache-from" list:"lines" desc:"Cache sources (type=registry,ref=...; type=local,src=...; type=gha)"`
	CacheTo        []string    `input:"cache-to" list:"lines" desc:"Cache exports (type=registry,ref=...,mode=max; type=local,dest=...; type=inline; type=gha)"`
	Push           mode.Switch `input:"push" default:"auto" enum:"auto|true|false" desc:"Push to the registries; auto pushes on every event except pull requests"`
	Provenance     string      `input:"provenance" default:"mode=min" desc:"Provenance attestation: false, true, mode=min or mode=max"`
	SBOM           string      `input:"sbom" default:"false" desc:"BuildKit SBOM attestation: true, false, or generator=<image>"`
	SBOMGenerator  string      `input:"sbom-generator" desc:"Image of the SBOM generator BuildKit runs (default BuildKit's own)"`
	Attests        []string    `input:"attests" list:"lines" desc:"BuildKit attestations in buildx's --attest syntax (type=provenance,mode=max; type=sbom,generator=<image>; disabled=true), as build-push-action: an entry replaces the default of provenance or sbom, a provenance or sbom input set to anything else wins"`
	Builder        string      `input:"builder" lines:"true" envdefault:"BUILDKIT_HOST" desc:"BuildKit address (unix://, tcp://, docker-container://, kube-pod://); default BUILDKIT_HOST, then the Docker Engine, then an embedded buildkitd. Several nodes, one per line, each building its platforms natively: <address> platforms=linux/arm64 [tls-ca= tls-cert= tls-key= tls-servername=] [fallback=true]"`
	BuilderTLSCA   string      `input:"builder-tls-ca" envdefault:"BUILDKIT_TLS_CA" desc:"CA certificate file for a tcp:// builder (mTLS); default BUILDKIT_TLS_CA"`
	BuilderTLSCert string      `input:"builder-tls-cert" envdefault:"BUILDKIT_TLS_CERT" desc:"Client certificate file for a tcp:// builder; default BUILDKIT_TLS_CERT"`
	BuilderTLSKey  string      `input:"builder-tls-key" envdefault:"BUILDKIT_TLS_KEY" desc:"Client key file for a tcp:// builder; default BUILDKIT_TLS_KEY"`
	BuilderTLSName string      `input:"builder-tls-servername" envdefault:"BUILDKIT_TLS_SERVERNAME" desc:"Server name to verify a tcp:// builder's certificate against"`
	DockerHost     string      `input:"docker-host" envdefault:"DOCKER_HOST" default:"unix:///var/run/docker.sock" desc:"Docker Engine that runs a BuildKit container when no builder is given"`
	BuildkitImage  string      `input:"buildkit-image" default:"moby/buildkit:v0.34.2" desc:"BuildKit image started through the Docker Engine when no builder is given"`
	NoCache        bool        `input:"no-cache" default:"false" desc:"Do not use the cache when building"`
	Pull           bool        `input:"pull" default:"false" desc:"Always pull newer versions of the base images"`
	AddHosts       []string    `input:"add-hosts" list:"comma" desc:"Custom host-to-IP mappings of the RUN steps (host:ip), as build-push-action"`
	Network        string      `input:"network" desc:"Networking of the RUN steps: default, none or host (host needs the network.host entitlement)"`
	ShmSize        string      `input:"shm-size" desc:"Size of /dev/shm in the RUN steps (bytes, or 64m, 2g)"`
	Ulimits        []string    `input:"ulimit" list:"lines" desc:"Ulimits of the RUN steps (type=soft[:hard], e.g. nofile=1024:2048)"`
	CgroupParent   string      `input:"cgroup-parent" desc:"Parent cgroup of the RUN steps"`
	NoCacheFilters []string    `input:"no-cache-filters" list:"comma" desc:"Stages built without the cache (the others use it)"`
	Allow          []string    `input:"allow" list:"comma" desc:"Extra privileged entitlements the build asks for (network.host, security.insecure); the builder must permit them"`
	Outputs        []string    `input:"outputs" list:"lines" desc:"Files of the build for a later step, beside slipway's OCI layout and push: type=local,dest=<dir>, type=tar,dest=<file> (also oci and docker with dest); type=image and type=registry are refused: images and push say where the image goes"`
	Load           bool        `input:"load" default:"false" desc:"Also load the built image (one platform) into the Docker Engine at docker-host under its tags, so that a later step can docker run it"`
	Call           string      `input:"call" desc:"Evaluate instead of building, as buildx's --call: check (the Dockerfile checks: warnings with file and line in the summary and the comment; fails only when the Dockerfile sets check=error=true), outline or targets (printed on stdout); build (default) builds; format=json prints the JSON"`
	Progress       string      `input:"progress" default:"auto" enum:"auto|tty|plain|rawjson|quiet" desc:"Build progress output on stderr"`
	RegistryAuth   []string    `input:"registry-auth" list:"lines" secret:"true" desc:"Registry credentials, one host=user:password per line"`
	RegistryRetry  string      `input:"registry-retry-time" default:"2m" desc:"How long one registry request is retried through transient faults (resets, timeouts, 408, 429, 5xx; Retry-After honoured), a Go duration; 0 turns retries off"`

	// Scan (aquasecurity/trivy-action)
	Scan             bool     `input:"scan" default:"true" desc:"Scan the image with Trivy before any tag moves"`
	Severity         []string `input:"severity" list:"comma" default:"CRITICAL,HIGH" desc:"Severities that fail the gate (UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL)"`
	IgnoreUnfixed    bool     `input:"ignore-unfixed" default:"false" desc:"Ignore vulnerabilities with no fixed version"`
	TrivyIgnores     []string `input:"trivyignores" list:"comma" desc:"Ignore files (.trivyignore or .trivyignore.yaml format)"`
	ScanFail         bool     `input:"scan-fail" default:"true" desc:"Fail the run, untagged, when the gate finds a vulnerability at the severities"`
	ScanCacheDir     string   `input:"scan-cache-dir" desc:"Trivy cache directory (default: RUNNER_TEMP on GitHub, else the user cache dir)"`
	ScanDBRepository []string `input:"scan-db-repository" list:"comma" desc:"Vulnerability DB repositories (default Trivy's: mirror.gcr.io, then ghcr.io)"`
	ScanSkipDBUpdate bool     `input:"scan-skip-db-update" default:"false" desc:"Use the vulnerability DB in the cache without updating it"`
	CompareTo        string   `input:"compare-to" default:"auto" desc:"Image to compare with (new and fixed vulnerabilities, packages, size) in the summary and the PR/MR comment: a reference (repository:tag or @digest), auto (on pull requests, the tag the rules give the base branch's push in the first repository), or false"`
	Gate             string   `input:"gate" default:"all" enum:"all|new" desc:"What fails the gate: all (every finding at the severities) or new (only findings the compared image does not have; all when there is none to compare)"`

	From    []string `input:"from" list:"lines" comment:"#" desc:"For slipway merge: the partial runs' partial-result outputs, one per line (<platform> <manifest digest> <record digest>); default: every SLIPWAY_RESULT_PARTIAL_* variable (the partial jobs' slipway.env, through GitLab's needs:)"`
	Partial bool     `input:"partial" default:"false" desc:"One platform's job of a CI matrix: build, push by digest and scan that platform only, and record the result (the partial-result output) for slipway merge, which gates, signs and tags the index; no tag, no signature here"`

	// Promote
	Source                string `input:"source" desc:"For slipway promote: the image to promote, repository@sha256:… (the command's argument); it moves to images, with tags from tags (none when tags is empty)"`
	CertificateIdentity   string `input:"certificate-identity" desc:"For slipway promote: the keyless signer the source's signatures must be by (cosign's --certificate-identity); with certificate-oidc-issuer, in place of cosign-key"`
	CertificateOIDCIssuer string `input:"certificate-oidc-issuer" desc:"For slipway promote: the OIDC issuer of certificate-identity (cosign's --certificate-oidc-issuer)"`
	ReportMaxAge          string `input:"report-max-age" default:"24h" desc:"For slipway promote: the oldest signed vulnerability report the policy is judged on; an older one, or none, and the source is scanned again in its registry (a duration, e.g. 24h or 30m)"`

	// Sign (sigstore/cosign)
	Sign               mode.Switch          `input:"sign" default:"auto" enum:"auto|true|false" desc:"Sign and attest the digest; auto signs when a key or an OIDC token is available"`
	CosignKey          string               `input:"cosign-key" desc:"Signing key: a file path, env://VAR holding the PEM, or a KMS URI; empty for keyless (password in COSIGN_PASSWORD); slipway promote verifies with it, and takes a public key file too"`
	FulcioURL          string               `input:"fulcio-url" default:"https://fulcio.sigstore.dev" desc:"Fulcio URL for keyless signing"`
	RekorURL           string               `input:"rekor-url" default:"https://rekor.sigstore.dev" desc:"Rekor URL of the transparency log"`
	TlogUpload         bool                 `input:"tlog-upload" default:"true" desc:"Upload signatures to the transparency log"`
	RekorVersion       string               `input:"rekor-version" default:"1" enum:"1|2" desc:"API version of the log at rekor-url: 1 (rekor.sigstore.dev today) or 2 (rekor-tiles); legacy signatures need 1"`
	TimestampServerURL string               `input:"timestamp-server-url" desc:"RFC 3161 timestamp authority that timestamps the Sigstore bundles (cosign's flag of that name; the public one is https://timestamp.sigstore.dev/api/v1/timestamp); keyless signing with a Rekor v2 log needs one, as Rekor v2 entries carry no time"`
	SignatureFormat    mode.SignatureFormat `input:"signature-format" default:"both" enum:"legacy|bundle|both" desc:"How signatures are stored: legacy (cosign's .sig/.att tags, which containers/image policies read), bundle (Sigstore bundles as OCI 1.1 referrers, which cosign v3 reads first) or both, so that every verifier finds them"`
	TrustedRoot        string               `input:"trusted-root" desc:"Sigstore trusted_root.json to verify keyless signatures with, for a private Fulcio and Rekor (default: the public instance's, through TUF)"`
	Attest             bool                 `input:"attest" default:"true" desc:"Attest the SBOM and the vulnerability report when signing"`

	// Report
	Comment mode.Comment `input:"comment" default:"auto" enum:"auto|always|never" desc:"Sticky PR/MR comment: auto comments on pull requests when allowed"`
}
