package chlocal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tally-billing/tally/chlocal"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     chlocal.Config
		wantErr bool
	}{
		{name: "data dir only", cfg: chlocal.Config{DataDir: "/tmp/x"}},
		{name: "missing data dir", cfg: chlocal.Config{}, wantErr: true},
		{name: "negative start timeout", cfg: chlocal.Config{DataDir: "d", StartTimeout: -time.Second}, wantErr: true},
		{name: "negative memory", cfg: chlocal.Config{DataDir: "d", MaxServerMemory: -1}, wantErr: true},
		{name: "negative backoff", cfg: chlocal.Config{DataDir: "d", RestartBackoff: -1}, wantErr: true},
		{
			name:    "backoff above its maximum",
			cfg:     chlocal.Config{DataDir: "d", RestartBackoff: time.Minute, MaxRestartBackoff: time.Second},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr != (err != nil) {
				t.Fatalf("Validate() = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, chlocal.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestStartRejectsInvalidConfig(t *testing.T) {
	_, err := chlocal.Start(context.Background(), chlocal.Config{})
	if !errors.Is(err, chlocal.ErrInvalidConfig) {
		t.Fatalf("Start = %v, want ErrInvalidConfig", err)
	}
}
