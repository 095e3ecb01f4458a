package attrs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// What may carry a credential prints and encodes without it, however it
// is formatted: the plan that is shown is the plan that runs.
func TestEntriesAndSecretsShowNoValue(t *testing.T) {
	v := struct {
		Cache   []Entry
		Secrets []Secret
	}{
		Cache:   Entries([]string{"type=gha,token=gha-token-value", "type=s3,bucket=b,endpoint_url=https://u:url-pass@minio.example.com/"}),
		Secrets: []Secret{{ID: "npm", Env: "NPM_TOKEN", Value: "env-value"}, {ID: "GIT_AUTH_TOKEN", Value: "inline-value"}},
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	shown := fmt.Sprintf("%v %+v %s", v, v, js)
	for _, secret := range []string{"gha-token-value", "url-pass", "env-value", "inline-value"} {
		if strings.Contains(shown, secret) {
			t.Errorf("%q shows: %s", secret, shown)
		}
	}
	for _, want := range []string{"token=***", "https://***@minio.example.com/", "id=npm,env=NPM_TOKEN", "id=GIT_AUTH_TOKEN,value=***"} {
		if !strings.Contains(shown, want) {
			t.Errorf("%q is not shown: %s", want, shown)
		}
	}
	if string(v.Cache[0]) != "type=gha,token=gha-token-value" {
		t.Errorf("the entry itself is %q", string(v.Cache[0]))
	}
}
