package app_test

import (
	"slices"
	"strings"
	"testing"

	"accountd/app"
)

func TestConfigCORSOriginsAndAppEnv(t *testing.T) {
	t.Parallel()
	c, err := app.LoadConfig(env(nil))
	if err != nil || len(c.CORSOrigins) != 0 || c.Development {
		t.Fatalf("defaults: CORS %v, development %v, %v", c.CORSOrigins, c.Development, err)
	}
	c, err = app.LoadConfig(env(map[string]string{
		"CORS_ORIGINS": " https://spa.example , http://localhost:5173,",
		"APP_ENV":      "Development",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://spa.example", "http://localhost:5173"}; !slices.Equal(c.CORSOrigins, want) {
		t.Errorf("CORS origins %v, want %v", c.CORSOrigins, want)
	}
	if !c.Development {
		t.Error("APP_ENV=development not applied")
	}
	for _, bad := range []string{"spa.example", "ftp://spa.example", "https://spa.example/app", "https://", "https://u@spa.example", "https://spa.example?x=1"} {
		_, err := app.LoadConfig(env(map[string]string{"CORS_ORIGINS": bad}))
		if err == nil || !strings.Contains(err.Error(), "CORS_ORIGINS") {
			t.Errorf("CORS_ORIGINS=%q: %v", bad, err)
		}
	}
	if _, err := app.LoadConfig(env(map[string]string{"APP_ENV": "staging"})); err == nil || !strings.Contains(err.Error(), "APP_ENV") {
		t.Errorf("APP_ENV=staging: %v", err)
	}
}
