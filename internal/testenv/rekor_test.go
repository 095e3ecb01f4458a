package testenv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/proto"
)

// The test environment's Rekor v2 logs what is signed with a key: the
// bundle carries an inclusion proof under a checkpoint the log signed,
// which verifies against a trust root naming the log; the same bundle
// without its entry, with the entry altered, or checked against another
// log's key does not verify. Two uploads are two entries.
func TestRekorV2(t *testing.T) {
	r := StartRekor(t)
	ctx := context.Background()
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	logged := func(data []byte) *protobundle.Bundle {
		t.Helper()
		pb, err := sign.Bundle(&sign.PlainData{Data: data}, kp, sign.BundleOptions{
			Context:          ctx,
			TransparencyLogs: []sign.Transparency{sign.NewRekor(&sign.RekorOptions{BaseURL: r.URL, Version: 2, Retries: 1})},
		})
		if err != nil {
			t.Fatalf("signing with the log at %s: %v", r.URL, err)
		}
		return pb
	}
	data, data2 := []byte("sha256:8f1b2c... built by slipway"), []byte("another payload")
	pb := logged(data)
	second := logged(data2)
	entry := func(b *protobundle.Bundle) int64 {
		es := b.GetVerificationMaterial().GetTlogEntries()
		if len(es) != 1 {
			t.Fatalf("the bundle has %d log entries, want 1", len(es))
		}
		return es[0].GetLogIndex()
	}
	if a, b := entry(pb), entry(second); b != a+1 {
		t.Errorf("log indices %d then %d, want consecutive entries", a, b)
	}

	pv, err := signature.LoadVerifier(kp.GetPublicKey(), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	keys := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		string(kp.GetHint()): root.NewExpiringKey(pv, r.Started, time.Time{}),
	})
	trust := func(logKey ed25519.PublicKey) root.TrustedMaterial {
		t.Helper()
		rr := *r
		rr.PublicKey = logKey
		return root.TrustedMaterialCollection{rr.Root(t), keys}
	}
	check := func(tm root.TrustedMaterial, b *protobundle.Bundle, data []byte) error {
		t.Helper()
		entity, err := bundle.NewBundle(b)
		if err != nil {
			return err
		}
		v, err := verify.NewVerifier(tm, verify.WithTransparencyLog(1), verify.WithNoObserverTimestamps())
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(entity, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(data)), verify.WithKey()))
		return err
	}
	rejects := func(what string, tm root.TrustedMaterial, b *protobundle.Bundle, data []byte) {
		t.Helper()
		if err := check(tm, b, data); err == nil {
			t.Error(what)
		} else {
			t.Logf("rejected as it should be: %v", err)
		}
	}
	good := trust(r.PublicKey)
	if err := check(good, pb, data); err != nil {
		t.Fatalf("the logged signature does not verify: %v", err)
	}
	if err := check(good, second, data2); err != nil {
		t.Fatalf("the second logged signature does not verify: %v", err)
	}

	missing := proto.Clone(pb).(*protobundle.Bundle)
	missing.VerificationMaterial.TlogEntries = nil
	rejects("a signature without its log entry verified with the log required", good, missing, data)
	// The proof's hashes lead to the checkpoint's root, which the log
	// signed (the proof's RootHash field repeats it and is not read).
	second2 := proto.Clone(second).(*protobundle.Bundle)
	if hs := second2.VerificationMaterial.TlogEntries[0].InclusionProof.Hashes; len(hs) == 0 {
		t.Fatal("the second entry's inclusion proof has no hashes")
	} else {
		hs[0][0] ^= 1
	}
	rejects("a log entry with an altered inclusion proof verified", good, second2, data2)
	forged := proto.Clone(pb).(*protobundle.Bundle)
	cp := forged.VerificationMaterial.TlogEntries[0].InclusionProof.Checkpoint
	cp.Envelope = strings.Replace(cp.Envelope, "\n1\n", "\n2\n", 1) // the tree size line
	rejects("an entry under an altered checkpoint verified", good, forged, data)
	// The verifier rebuilds the entry from the signature and the key (the
	// entry's own body is not read), so another signature's entry, whole,
	// proves nothing about this one.
	swapped := proto.Clone(pb).(*protobundle.Bundle)
	swapped.VerificationMaterial.TlogEntries = second.VerificationMaterial.TlogEntries
	rejects("a signature verified with another signature's log entry", good, swapped, data)
	moved := proto.Clone(pb).(*protobundle.Bundle)
	moved.VerificationMaterial.TlogEntries[0].LogIndex++
	moved.VerificationMaterial.TlogEntries[0].InclusionProof.LogIndex++
	rejects("a log entry claiming another index verified", good, moved, data)
	otherLog, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rejects("the entry verified against another log's key", trust(otherLog), pb, data)
}
