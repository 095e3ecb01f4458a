// Package version tells which slipway this is.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time: -ldflags "-X github.com/slipway-ci/slipway/internal/version.Version=v1.2.3".
var (
	Version = "dev"
	Commit  = ""
)

// Info is the version report.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// Get returns the version, falling back to the module's build info.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && i.Commit == "" {
				i.Commit = s.Value
			}
		}
	}
	return i
}

func (i Info) String() string {
	s := "slipway " + i.Version
	if i.Commit != "" {
		s += " (" + i.Commit + ")"
	}
	return s + fmt.Sprintf(" %s %s/%s", i.Go, i.OS, i.Arch)
}
