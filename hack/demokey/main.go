// Command demokey writes the ephemeral cosign key pair `make demo` signs
// with: <dir>/cosign.key (encrypted with COSIGN_PASSWORD) and
// <dir>/cosign.pub, as `cosign generate-key-pair` does.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/cosign/v2/pkg/cosign"

	"github.com/slipway-ci/slipway/internal/environ"
)

func main() {
	dir := flag.String("dir", "", "directory to write cosign.key and cosign.pub into")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "demokey: -dir is required")
		os.Exit(2)
	}
	pw := environ.OS().Get("COSIGN_PASSWORD")
	keys, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte(pw), nil })
	if err == nil {
		err = os.MkdirAll(*dir, 0o700)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(*dir, "cosign.key"), keys.PrivateBytes, 0o600)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(*dir, "cosign.pub"), keys.PublicBytes, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demokey:", err)
		os.Exit(1)
	}
}
