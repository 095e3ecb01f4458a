package config

import (
	"errors"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/csvlist"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/errs"
)

// fuzzInputError checks that err is an *errs.InputError naming one of
// inputs (any known input, or "config", when none are given) in one line.
func fuzzInputError(t *testing.T, what string, err error, inputs ...string) *errs.InputError {
	t.Helper()
	var ie *errs.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("%s: %v (%T), not an *errs.InputError", what, err, err)
	}
	if len(inputs) > 0 {
		if !slices.Contains(inputs, ie.Input) {
			t.Fatalf("%s: %v names input %q, want one of %q", what, err, ie.Input, inputs)
		}
	} else if _, ok := Lookup(ie.Input); !ok && ie.Input != "config" {
		t.Fatalf("%s: %v names %q, not an input", what, err, ie.Input)
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("%s: the message is not one line: %q", what, err.Error())
	}
	return ie
}

// csvQuote quotes a CSV field as csvlist reads it back.
func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

var cacheSeeds = []string{
	"ghcr.io/a/b:cache", "type=local,src=/tmp/c", "type=gha,scope=x", "type=gha,mode=max",
	"type=registry,ref=r:c,mode=max", "type=inline", "type=registry,ref=r:d,ignore-error=false",
	"type=registry,ref=registry.gitlab.com/acme/app/cache,mode=max", " Type = registry , REF = r ",
	"type=s3,region=eu-west-1,bucket=b,access_key_id=AKIAEXAMPLE,secret_access_key=wJalrXUtnFEMI",
	"type=s3,bucket=b,endpoint_url=https://minio:s3cr3t@minio.example.com:9000,use_path_style=true",
	"type=azblob,account_url=https://acct.blob.core.windows.net,shared_key=c2hhcmVk,name=app",
	"type=gha,token=ghs_abcdef,url=https://u:p@cache.example.com/,version=2",
	`type=local,"src=/a,b",dest=/c`, "type=floppy", `type=raw,"value=x`, "type=local,=x", "type=local,novalue",
	"user/app:cache\ntype=local,src=path/to/dir", "type=floppy,\"a=1\n2\"", "\"\r0\"0", "",
}

// FuzzParseCacheEntry checks cache-from and cache-to entries: what parses
// has lower-case, trimmed keys and trimmed values; a bare cache-from
// reference is a registry cache; an entry validation accepts has a known
// type; and validation's errors name the input in one line.
func FuzzParseCacheEntry(f *testing.F) {
	for _, s := range cacheSeeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, e string, from bool) {
		kv, err := attrs.CacheEntry(e, from)
		bare := from && !strings.Contains(e, "=")
		if err != nil {
			if bare {
				t.Fatalf("attrs.CacheEntry(%q, from) = %v for a bare reference", e, err)
			}
			if _, err2 := attrs.Parse(e); err2 == nil {
				t.Fatalf("attrs.CacheEntry(%q) = %v, but ParseAttrs accepts it", e, err)
			}
		} else {
			if bare {
				want := map[string]string{"type": "registry", "ref": strings.TrimSpace(e)}
				if !maps.Equal(kv, want) {
					t.Fatalf("attrs.CacheEntry(%q, from) = %q, want %q", e, kv, want)
				}
			} else if a2, err2 := attrs.Parse(e); err2 != nil || !maps.Equal(kv, a2) {
				t.Fatalf("attrs.CacheEntry(%q) = %q, ParseAttrs = %q, %v", e, kv, a2, err2)
			}
			for k, v := range kv {
				if k != strings.ToLower(strings.TrimSpace(k)) || v != strings.TrimSpace(v) {
					t.Fatalf("attrs.CacheEntry(%q): attribute %q=%q is not normalized", e, k, v)
				}
			}
		}

		input := "cache-to"
		c := &Config{CacheTo: []string{e}}
		if from {
			input = "cache-from"
			c = &Config{CacheFrom: []string{e}}
		}
		if verr := c.validateCache(); verr != nil {
			fuzzInputError(t, "validateCache("+e+")", verr, input)
		} else if err != nil || !slices.Contains(cacheTypes, kv["type"]) {
			t.Fatalf("validateCache accepts %q: kv %q, %v; want a known type", e, kv, err)
		}
	})
}

// FuzzParseAttrs checks key=value attribute lists: keys are lower-case and
// trimmed, values trimmed, and writing the attributes back as quoted CSV
// fields reads the same attributes.
func FuzzParseAttrs(f *testing.F) {
	for _, s := range cacheSeeds {
		f.Add(s)
	}
	for _, s := range []string{"mode=max", "generator=docker/buildkit-syft-scanner", "mode=min,builder-id=https://ci", `a="b""c",d=e`, "k=v=w", "a=b\r\nc=d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, e string) {
		kv, err := attrs.Parse(e)
		if err != nil {
			return
		}
		keys := slices.Sorted(maps.Keys(kv))
		for _, k := range keys {
			if v := kv[k]; k != strings.ToLower(strings.TrimSpace(k)) || v != strings.TrimSpace(v) {
				t.Fatalf("attrs.Parse(%q): attribute %q=%q is not normalized", e, k, v)
			}
		}
		// A record of one field is split at its commas whether quoted or
		// not (getList), so a lone attribute with a comma cannot be written.
		if len(keys) == 1 && strings.Contains(keys[0]+kv[keys[0]], ",") {
			return
		}
		fields := make([]string, len(keys))
		for i, k := range keys {
			fields[i] = csvQuote(k + "=" + kv[k])
		}
		again, err := attrs.Parse(strings.Join(fields, ","))
		if err != nil || !maps.Equal(again, kv) {
			t.Fatalf("attrs.Parse(%q) = %q; written back as %q it reads %q, %v", e, kv, strings.Join(fields, ","), again, err)
		}
	})
}

// FuzzRedactAttrs checks that the value of a credential attribute does
// not show in the redacted entry (the redaction is the same whatever the
// value), and that URL user information is hidden.
func FuzzRedactAttrs(f *testing.F) {
	for i, s := range cacheSeeds {
		f.Add(s, uint8(i), "s3cr3t-"+s, "type=gha")
	}
	f.Add("type=s3", uint8(1), "wJalrXUtnFEMI/K7MDENG", "bucket=b")
	f.Add("type=gha", uint8(0), "ghs_0123456789", "")
	f.Add("type=s3", uint8(6), "https://minio:pa55@minio.example.com", "bucket=b")
	f.Add("", uint8(7), "https://user@host/x", "")
	f.Add("type=s3", uint8(6), "https://minio:p@ss@minio.example.com", "")
	f.Fuzz(func(t *testing.T, prefix string, sel uint8, secret, suffix string) {
		out := attrs.Redact(prefix)
		if _, err := csvlist.Split(prefix, csvlist.Opts{}); (err != nil) != (out == "(unparsable entry)") {
			t.Fatalf("attrs.Redact(%q) = %q; Split error %v", prefix, out, err)
		}

		keys := append(slices.Clone(attrs.CredentialKeys), "endpoint_url", "ref", "url")
		k := keys[int(sel)%len(keys)]
		if sel >= 128 {
			k = " " + strings.ToUpper(k)
		}
		e := prefix + "," + k + "=" + secret + "," + suffix
		kv, err := attrs.Parse(e)
		key := strings.ToLower(strings.TrimSpace(k))
		v := strings.TrimSpace(secret)
		if err != nil || kv[key] != v || v == "" {
			return // the secret is not the attribute's value as parsed
		}
		red := attrs.Redact(e)
		if slices.Contains(attrs.CredentialKeys, key) {
			e2 := prefix + "," + k + "=x," + suffix
			if a2, err := attrs.Parse(e2); err != nil || a2[key] != "x" {
				return // the secret changed the entry's structure
			}
			if red2 := attrs.Redact(e2); red != red2 {
				t.Fatalf("attrs.Redact(%q) = %q, with %s=x: %q: the value shows", e, red, key, red2)
			}
			return
		}
		// Not a credential attribute: a URL's user information is hidden.
		u, err := url.Parse(v)
		if err != nil || u.User == nil || strings.ContainsAny(secret, ",\"\r\n") {
			return
		}
		_, rv, _ := strings.Cut(attrs.Redact(k+"="+secret), "=")
		ru, err := url.Parse(strings.TrimSpace(rv))
		if err != nil {
			t.Fatalf("attrs.Redact(%q) = %q, no longer a URL: %v", k+"="+secret, rv, err)
		}
		if _, hasPW := ru.User.Password(); ru.User == nil || ru.User.Username() != "***" || hasPW {
			t.Fatalf("attrs.Redact(%q) shows %q: user information not hidden (%v)", k+"="+secret, rv, err)
		}
	})
}

// FuzzParseSecret checks secrets entries: a parsed secret has an id and
// one source; an inline KEY=value is the entry itself; a buildx entry
// written back as quoted CSV reads the same secret.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{
		"id=npm,src=/run/npmrc", "id=tok,env=GH_TOKEN", "type=env,id=TOKEN", "type=file,id=x,source=/f",
		"GIT_AUTH_TOKEN=abc,def", "MYSECRET=multi\nline", "id=x,required=true", "type=file,id=x", "type=ssh,id=x",
		"=nokey", "novalue", `"id=a,b",src=c`, "id=,src=/f", "id=npm,scr=/run/npmrc", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, e string) {
		s, err := attrs.ParseSecret(e)
		if berr := (&Config{Secrets: []string{e}}).validateSecrets(); (berr != nil) != (err != nil) {
			t.Fatalf("attrs.ParseSecret(%q) = %v but BuildSecrets: %v", e, err, berr)
		} else if berr != nil {
			fuzzInputError(t, "BuildSecrets("+e+")", berr, "secrets")
		}
		if err != nil {
			return
		}
		if s.ID == "" {
			t.Fatalf("attrs.ParseSecret(%q) = %+v: no id", e, s)
		}
		if s.Src == "" && s.Env == "" {
			if s.ID+"="+s.Value != e {
				t.Fatalf("attrs.ParseSecret(%q) = %+v: an inline secret that is not the entry", e, s)
			}
			return
		}
		if s.Value != "" {
			t.Fatalf("attrs.ParseSecret(%q) = %+v: a value and a source", e, s)
		}
		fields := []string{csvQuote("id=" + s.ID)}
		if s.Src != "" {
			fields = append(fields, csvQuote("src="+s.Src))
		}
		if s.Env != "" {
			fields = append(fields, csvQuote("env="+s.Env))
		}
		w := strings.Join(fields, ",")
		if again, err := attrs.ParseSecret(w); err != nil || again != s {
			t.Fatalf("attrs.ParseSecret(%q) = %+v; written back as %q it reads %+v, %v", e, s, w, again, err)
		}
	})
}

// FuzzRegistryLogin checks registry-auth entries: a login has a trimmed
// host and a user and is the entry itself; a malformed entry is an input
// error that shows nothing of the credentials.
func FuzzRegistryLogin(f *testing.F) {
	for _, s := range []string{
		"ghcr.io=alice:pw1", "docker.io=bob:pw:with:colons", "localhost:5000=u:p", " registry.example.com =ci:tok=en",
		"ghcr.io=token-only", "ghcr.io=:pw", "=u:p", "user:secret", "ghcr.io user:tok", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, e string) {
		l, ok := parseLogin(e)
		logins, err := (&Config{RegistryAuth: []string{e}}).RegistryLogins()
		if ok != (err == nil) {
			t.Fatalf("parseLogin(%q) ok=%v but RegistryLogins: %v", e, ok, err)
		}
		if ok {
			host, _, _ := strings.Cut(e, "=")
			if l.Host == "" || l.Host != strings.TrimSpace(host) || l.Username == "" ||
				host+"="+l.Username+":"+l.Password != e || len(logins) != 1 || logins[0] != l {
				t.Fatalf("parseLogin(%q) = %+v, RegistryLogins = %+v", e, l, logins)
			}
			return
		}
		fuzzInputError(t, "RegistryLogins("+e+")", err, "registry-auth")
		// The message is the same whatever the credentials are: what
		// follows host= does not change it.
		host, _, found := strings.Cut(e, "=")
		if !found {
			// No host (user:password, the host forgotten): nothing of the
			// entry is shown.
			if _, err2 := (&Config{RegistryAuth: []string{"x"}}).RegistryLogins(); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("RegistryLogins(%q) = %v: the message shows the entry", e, err)
			}
			return
		}
		if _, err2 := (&Config{RegistryAuth: []string{host + "="}}).RegistryLogins(); err2 == nil || err2.Error() != err.Error() {
			t.Fatalf("RegistryLogins(%q) = %v, but for %q: %v: the message shows the credentials", e, err, host+"=", err2)
		}
	})
}

// builderSchemes are the builder address schemes validation accepts.
var builderSchemes = []string{"unix", "tcp", "docker-container", "kube-pod", "podman-container", "ssh", "npipe"}

// FuzzBuilder checks the builder input: a loaded config whose builder
// validation accepts is empty or a URL with a known scheme (what
// internal/build.Selection.Connect parses); one it refuses is an input
// error naming builder.
func FuzzBuilder(f *testing.F) {
	for _, s := range []string{
		"unix:///run/buildkit/buildkitd.sock", "tcp://buildkitd:1234", "tcp://[::1]:1234", "docker-container://buildx_buildkit_default",
		"kube-pod://buildkitd-0?namespace=ci", "podman-container://bk", "ssh://user@host", "npipe:////./pipe/buildkitd",
		"ftp://x", "unix://", "UNIX:///x", "mybuilder", "/run/buildkit/buildkitd.sock", "%zz", "\x84", "",
		"tcp://a:1234 platforms=linux/amd64\ntcp://b:1234 platforms=linux/arm64 tls-ca=/ca.pem", "tcp://a:1234 platforms=",
		"tcp://a:1234 fallback=maybe", "tcp://a:1234 platforms=linux/amd64\n# a comment\n\ntcp://a:1234 fallback=true",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b string) {
		l, err := Load(Options{Flags: map[string]string{"builder": b}, Env: environ.Map(map[string]string{"SLIPWAY_CONTEXT": dir})})
		if err != nil {
			fuzzInputError(t, "Load(builder="+b+")", err, "builder")
			return
		}
		if l.Builder != b {
			t.Fatalf("Load(builder=%q): Builder = %q", b, l.Builder)
		}
		if err := l.Validate(); err != nil {
			fuzzInputError(t, "Validate(builder="+b+")", err, "builder")
			return
		}
		if b == "" {
			return
		}
		if nodes, err := attrs.ParseBuilder(b); err != nil {
			t.Fatalf("Validate accepts builder %q, which ParseBuilder refuses: %v", b, err)
		} else if len(nodes) > 0 {
			for _, n := range nodes {
				if u, err := url.Parse(n.Address); err != nil || !slices.Contains(builderSchemes, u.Scheme) {
					t.Fatalf("Validate accepts builder %q: node %q is not an address with a known scheme", b, n.Address)
				}
			}
			return
		}
		if !strings.Contains(b, "://") {
			t.Fatalf("Validate accepts builder %q, which has no scheme", b)
		}
		if u, err := url.Parse(b); err != nil {
			t.Fatalf("Validate accepts builder %q, which is not a URL: %v", b, err)
		} else if !slices.Contains(builderSchemes, u.Scheme) {
			t.Fatalf("Validate accepts builder %q: unknown scheme %q", b, u.Scheme)
		}
	})
}

// FuzzLoadConfigFile checks Load on any .slipway.yaml: an error is an
// input error naming an input (or config) in one line; a loaded file sets
// each input it names, from the file, to its value there, as a YAML
// decoder reads the file; and validating it fails only with input errors.
func FuzzLoadConfigFile(f *testing.F) {
	for _, s := range []string{
		"", "# only a comment\n", "{}", "---\n", "[a]\n", "tags: [a\n", "tags: [a]\nplatfroms: linux/amd64\n",
		"target: from-file\nfile: from-file.Dockerfile\nplatforms: [linux/amd64, \"linux/arm64,linux/arm/v7\"]\n" +
			"tags:\n  - type=ref,event=branch\n  - type=semver,pattern={{version}}\nno-cache: true\nprogress: plain\n",
		"images:\n  - registry.example.com/slipway/demo\nplatforms: linux/amd64,linux/arm64\ntags:\n  - type=sha\n" +
			"  - type=semver,pattern={{major}}.{{minor}}\nlabels: |\n  org.opencontainers.image.title=slipway demo\nseverity: CRITICAL,HIGH\n",
		"cache-from: type=gha\ncache-to: type=gha,mode=max\nbuilder: tcp://buildkitd:1234\n",
		"secrets: |\n  GIT_AUTH_TOKEN=abc\n  id=npm,src=/run/npmrc\nregistry-auth:\n  - ghcr.io=alice:pw1\n",
		"no-cache: yes\n", "push: sometimes\n", "tags: {a: b}\n", "target: [a]\n", "tags: [[a]]\n",
		"tags: &t [a]\nlabels: *t\n", "tags: [a]\ntags: [b]\n", "tags: null\nfile: ~\n", "target: a\n---\ntarget: b\n",
		"target: !!binary aGVsbG8=\n", "? [a]\n: b\n", "<<: {target: x}\n",
	} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), DefaultFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Load(Options{Flags: map[string]string{"config": path}, Env: environ.Map(nil)})
		if err != nil {
			fuzzInputError(t, "Load", err)
			return
		}
		if l.File != path {
			t.Fatalf("File = %q, want %q", l.File, path)
		}
		// What a YAML decoder reads of the file.
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("Load accepts %q, which YAML decodes with %v", data, err)
		}
		var node yaml.Node
		_ = yaml.Unmarshal(data, &node)
		values := map[string]*yaml.Node{}
		if len(node.Content) == 1 && node.Content[0].Kind == yaml.MappingNode {
			m := node.Content[0]
			for i := 0; i+1 < len(m.Content); i += 2 {
				values[m.Content[i].Value] = m.Content[i+1] // the last wins, as in Load
			}
		}
		for _, in := range Inputs() {
			v, inFile := values[in.Name]
			if inFile && v.ShortTag() == "!!null" {
				inFile = false // key: (nothing), null or ~ is not given
			}
			if got := l.Origin[in.Name]; (got == FromFile) != inFile {
				t.Fatalf("%q: %s from %s, in the file: %v", data, in.Name, got, inFile)
			}
			if !inFile {
				continue
			}
			var raw string
			if v.Kind == yaml.SequenceNode {
				var items []string
				if err := v.Decode(&items); err != nil {
					t.Fatalf("%q: Load accepts %s, which YAML decodes with %v", data, in.Name, err)
				}
				raw = strings.Join(items, "\n")
			} else if err := v.Decode(&raw); err != nil {
				t.Fatalf("%q: Load accepts %s, which YAML decodes with %v", data, in.Name, err)
			}
			var want any = raw
			switch in.Kind {
			case KindBool:
				want = raw == "true" || raw == "True" || raw == "TRUE"
			case KindList:
				list, _ := csvlist.Split(raw, in.List)
				want = list
			}
			got := fieldValue(&l.Config, in).Interface()
			if in.Kind == KindString {
				got = fieldValue(&l.Config, in).String() // typed modes are strings
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: %s = %#v, want %#v", data, in.Name, got, want)
			}
		}
		if err := l.Validate(); err != nil {
			fuzzInputError(t, "Validate", err)
		}
	})
}
