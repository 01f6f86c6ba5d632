package build

import (
	"context"
	"fmt"
	"github.com/onix-dev/onix/internal/ctxio"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/onix-dev/onix/internal/build/sandbox"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
)

// runBuiltin runs a builtin builder in-process. Only builtin:fetchurl
// exists in Nix 2.8 (builtin:buildenv is used by nix-env only).
func (b *builder) runBuiltin(ctx context.Context, n *node, cfg *sandbox.Config, log io.Writer) error {
	switch n.drv.Builder {
	case "builtin:fetchurl":
		return b.fetchurl(ctx, n, cfg, log)
	default:
		return fmt.Errorf("unsupported builtin builder '%s'", strings.TrimPrefix(n.drv.Builder, "builtin:"))
	}
}

func (b *builder) fetchurl(ctx context.Context, n *node, cfg *sandbox.Config, log io.Writer) error {
	env := n.drv.Env
	if j, ok := env["__json"]; ok && j != "" {
		return fmt.Errorf("builtin:fetchurl does not support structured attributes")
	}
	out := env["out"]
	if out == "" {
		return fmt.Errorf("attribute 'out' missing")
	}
	rawURL := env["url"]
	if rawURL == "" {
		return fmt.Errorf("attribute 'url' missing")
	}
	if !n.drv.IsFixedOutput() {
		return fmt.Errorf("builtin:fetchurl must be a fixed-output derivation")
	}
	dst := cfg.OutputPath(out)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("fetchurl: %w", err)
	}
	fmt.Fprintf(log, "downloading '%s'...\n", rawURL)
	body, err := openURL(ctx, rawURL)
	if err != nil {
		return err
	}
	defer body.Close()
	if env["unpack"] == "1" {
		if err := nar.Restore(ctx, body, dst); err != nil {
			return fmt.Errorf("unpacking '%s': %w", rawURL, err)
		}
		return nil
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("fetchurl: %w", err)
	}
	if _, err := io.Copy(f, ctxio.Reader(ctx, body)); err != nil {
		f.Close()
		return fmt.Errorf("downloading '%s': %w", rawURL, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fetchurl: %w", err)
	}
	if env["executable"] == "1" {
		if err := os.Chmod(dst, 0o755); err != nil {
			return fmt.Errorf("fetchurl: %w", err)
		}
	}
	return nil
}

func openURL(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid URL '%s': %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, fmt.Errorf("unable to download '%s': %w", rawURL, err)
		}
		return f, nil
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, fmt.Errorf("unable to download '%s': %w", rawURL, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("unable to download '%s': %w", rawURL, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("unable to download '%s': HTTP error %d", rawURL, resp.StatusCode)
		}
		return resp.Body, nil
	default:
		return nil, fmt.Errorf("unable to download '%s': unsupported URL scheme '%s'", rawURL, u.Scheme)
	}
}
