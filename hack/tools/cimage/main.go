// Command cimage-copy is `skopeo copy [--all] --policy POLICY.json` built
// from upstream containers/image (go.podman.io/image/v5), the library
// skopeo, podman and CRI-O enforce signature policies with:
//
//	cimage-copy --policy POLICY.json --registries-d DIR [--all] [--insecure] [--remove-signatures] SRC DST
//
// It exists because Debian's skopeo and podman are built without sigstore
// support, so slipway's tests could not check with them that the images and
// cosign signatures slipway pushes satisfy a real containers-policy.json
// (sigstoreSigned requirements). hack/testdeps.sh builds it, in its own module
// so the main module's tests and lint never see containers/image, with
// CGO_ENABLED=0 and the tags containers_image_openpgp (no gpgme),
// containers_image_storage_stub (no containers-storage: no btrfs, no
// devicemapper) and containers_image_docker_daemon_stub; tests find it with
// internal/testenv.CImageCopy.
//
// SRC and DST are containers/image transport references (docker://HOST/REPO@DIGEST,
// oci:DIR:TAG, dir:DIR, ...). --registries-d is the registries.d directory
// (containers-registries.d(5)): a file there with `use-sigstore-attachments:
// true` for a registry makes the docker transport read cosign's
// sha256-<hex>.sig tags. With --all every instance of an image index is
// copied, and each one must satisfy the policy. --insecure skips TLS
// verification of docker registries and so lets containers/image fall back
// to plain http (as skopeo's --src/--dest-tls-verify=false do).
// --remove-signatures, as skopeo's, copies no signatures: a copy of a signed
// image to oci: fails without it (that transport stores none). It exits 0
// when the copy succeeded, or 1 with the error, on one line, on stderr: in
// particular when the policy rejects the image or one of its instances.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cimage-copy: "+strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
}

func run(args []string) (retErr error) {
	fs := flag.NewFlagSet("cimage-copy", flag.ContinueOnError)
	policyPath := fs.String("policy", "", "the signature policy (containers-policy.json(5)); required")
	registriesD := fs.String("registries-d", "", "the registries.d directory (containers-registries.d(5)); required")
	all := fs.Bool("all", false, "copy every instance of an image index, not only the one for this system")
	insecure := fs.Bool("insecure", false, "skip TLS verification of docker registries, falling back to plain http")
	removeSigs := fs.Bool("remove-signatures", false, "do not copy signatures (needed when DST, e.g. oci:, cannot store them)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if *policyPath == "" || *registriesD == "" || fs.NArg() != 2 {
		return errors.New("usage: cimage-copy --policy POLICY.json --registries-d DIR [--all] [--insecure] [--remove-signatures] SRC DST")
	}
	src, err := alltransports.ParseImageName(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("source %q: %w", fs.Arg(0), err)
	}
	dst, err := alltransports.ParseImageName(fs.Arg(1))
	if err != nil {
		return fmt.Errorf("destination %q: %w", fs.Arg(1), err)
	}

	policy, err := signature.NewPolicyFromFile(*policyPath)
	if err != nil {
		return err
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return err
	}
	defer func() {
		if err := pc.Destroy(); err != nil && retErr == nil {
			retErr = err
		}
	}()

	sys := &types.SystemContext{RegistriesDirPath: *registriesD}
	if *insecure {
		// containers/image pings https first, and http when TLS
		// verification is off (docker/docker_client.go).
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	opts := &copy.Options{
		SourceCtx:          sys,
		DestinationCtx:     sys,
		ImageListSelection: copy.CopySystemImage,
		RemoveSignatures:   *removeSigs,
	}
	if *all {
		opts.ImageListSelection = copy.CopyAllImages
	}
	_, err = copy.Image(context.Background(), pc, dst, src, opts)
	return err
}
