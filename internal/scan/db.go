package scan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy/pkg/db"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/flag"
	"github.com/aquasecurity/trivy/pkg/javadb"

	"github.com/slipway-ci/slipway/internal/errs"
)

// ErrNoDB is wrapped by the error of a scan that has no vulnerability DB
// to use: none in the cache and none that could be downloaded.
var ErrNoDB = errors.New("no Trivy vulnerability DB")

// DBError is the one error a scan without a usable vulnerability DB
// returns. It names the three inputs that decide where the DB comes from.
type DBError struct {
	CacheDir     string   // the resolved scan-cache-dir
	Repositories []string // scan-db-repository, in order
	SkipUpdate   bool     // scan-skip-db-update
	Stale        bool     // a DB is cached but too old, and updating it failed
	Err          error
}

func (e *DBError) Error() string {
	var b strings.Builder
	repos := strings.Join(e.Repositories, ", ")
	switch {
	case e.SkipUpdate:
		fmt.Fprintf(&b, "no Trivy vulnerability DB in scan-cache-dir %s (no %s) and scan-skip-db-update is true, so none was downloaded from scan-db-repository %s", e.CacheDir, db.Path(db.Dir(e.CacheDir)), repos)
	case e.Stale:
		fmt.Fprintf(&b, "the Trivy vulnerability DB in scan-cache-dir %s is out of date and could not be updated from scan-db-repository %s", e.CacheDir, repos)
	default:
		fmt.Fprintf(&b, "no Trivy vulnerability DB in scan-cache-dir %s and none could be downloaded from scan-db-repository %s", e.CacheDir, repos)
	}
	if e.Err != nil {
		// Trivy's multi-errors span lines: keep the message on one.
		fmt.Fprintf(&b, ": %s", strings.Join(strings.Fields(e.Err.Error()), " "))
	}
	b.WriteString(" (set scan-db-repository to a reachable mirror of the Trivy DB, scan-cache-dir to a cache that holds a DB, ")
	if e.SkipUpdate {
		b.WriteString("or scan-skip-db-update to false to download one)")
	} else {
		b.WriteString("or, with a DB in the cache, scan-skip-db-update to true to use it as it is)")
	}
	return b.String()
}

func (e *DBError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNoDB}
	}
	return []error{ErrNoDB, e.Err}
}

// DefaultDBRepositories are Trivy's own vulnerability DB repositories, in
// the CLI's order (mirror.gcr.io, then ghcr.io): the --db-repository
// default of Trivy's flag package.
func DefaultDBRepositories() []string { return slices.Clone(flag.DBRepositoryFlag.Default) }

// DefaultCacheDir is where the DB and the analysis cache live when
// scan-cache-dir is not set: <runnerTemp>/slipway-trivy when the caller
// passes $RUNNER_TEMP (GitHub Actions), else <user cache dir>/slipway/trivy.
func DefaultCacheDir(runnerTemp string) (string, error) {
	if runnerTemp != "" {
		return filepath.Join(runnerTemp, "slipway-trivy"), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", errs.WrapInput("scan-cache-dir", err, "no user cache directory to default to; set scan-cache-dir")
	}
	return filepath.Join(dir, "slipway", "trivy"), nil
}

func parseRepositories(repos []string) ([]name.Reference, error) {
	refs := make([]name.Reference, 0, len(repos))
	for _, r := range repos {
		ref, err := name.ParseReference(r)
		if err != nil {
			return nil, errs.WrapInput("scan-db-repository", err, "%q is not an OCI repository reference (expected e.g. %s)", r, db.DefaultGHCRRepository)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// openDB makes sure a fresh enough vulnerability DB is in cacheDir —
// reused while fresh (Trivy's rule: before its next-update time, or
// downloaded within the hour), downloaded otherwise, never when
// skipUpdate — and opens it (Trivy's process-wide DB handle: close it with
// db.Close). It also points Trivy's Java DB (only read when an image holds
// JAR files) at the same cache.
func openDB(ctx context.Context, cacheDir string, repos []string, skipUpdate bool, ropt ftypes.RegistryOptions) (DBInfo, error) {
	refs, err := parseRepositories(repos)
	if err != nil {
		return DBInfo{}, err
	}
	dbDir := db.Dir(cacheDir)
	info := DBInfo{Dir: dbDir}
	fail := func(stale bool, err error) (DBInfo, error) {
		return info, &DBError{CacheDir: cacheDir, Repositories: repos, SkipUpdate: skipUpdate, Stale: stale, Err: err}
	}
	_, statErr := os.Stat(db.Path(dbDir))
	cached := statErr == nil

	client := db.NewClient(dbDir, true, db.WithDBRepository(refs))
	needsUpdate, err := client.NeedsUpdate(ctx, trivyVersion(), skipUpdate)
	if err != nil {
		if skipUpdate && !cached {
			// Trivy's own message names its CLI flag: say it in ours.
			err = nil
		}
		return fail(cached && !skipUpdate, err)
	}
	if needsUpdate {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return info, fmt.Errorf("scan-cache-dir %s: %w", cacheDir, err)
		}
		if err := client.Download(ctx, dbDir, ropt); err != nil {
			return fail(cached, err)
		}
		info.Downloaded = true
	}
	meta, err := metadata.NewClient(dbDir).Get()
	if err != nil {
		return fail(false, err)
	}
	info.UpdatedAt, info.NextUpdate, info.DownloadedAt = meta.UpdatedAt, meta.NextUpdate, meta.DownloadedAt
	if err := db.Init(dbDir); err != nil {
		return fail(false, fmt.Errorf("opening %s: %w", db.Path(dbDir), err))
	}

	javaRepos, err := parseRepositories(flag.JavaDBRepositoryFlag.Default)
	if err != nil {
		return info, err
	}
	javadb.Init(cacheDir, javaRepos, skipUpdate, true, ropt)
	return info, nil
}
