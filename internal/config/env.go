package config

import "github.com/slipway-ci/slipway/internal/environ"

// Env is the environment the configuration reads (see internal/environ).
type Env = environ.Env
