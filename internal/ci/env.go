package ci

import "github.com/slipway-ci/slipway/internal/environ"

// Env is the environment providers read (see internal/environ).
type Env = environ.Env
