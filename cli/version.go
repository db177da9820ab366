package cli

import (
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/driftwatch/driftwatch/app"
	"github.com/spf13/cobra"
)

// BuildInfo is what `driftwatch version` prints: the module version, the
// commit it was built from and the Go version, read from the binary.
type BuildInfo struct {
	Version  string
	Commit   string
	Modified bool
	Go       string
}

// ReadBuildInfo reads the binary's build information. A binary built from a
// checkout (go build, make build) has version "(devel)" and the commit; one
// installed with `go install ...@v1.2.3` has the module version.
func ReadBuildInfo() BuildInfo {
	bi := BuildInfo{Version: app.Version}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.Go = info.GoVersion
	if v := info.Main.Version; v != "" && v != "(devel)" {
		bi.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Commit = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return bi
}

func (b BuildInfo) String() string {
	s := b.Version
	if b.Commit != "" {
		s += " (commit " + b.Commit[:min(12, len(b.Commit))]
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	if b.Go != "" {
		s += " " + b.Go
	}
	return s
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(c.stdout, "driftwatch", ReadBuildInfo())
			return err
		},
	}
}

// healthcheckCmd asks a running serve for /healthz: a container's
// healthcheck (the image has no shell or curl).
func (c *cli) healthcheckCmd() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when a running serve answers /healthz (for container healthchecks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client := &http.Client{Timeout: 5 * time.Second}
			resp, err := client.Get(url)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/healthz", "the health endpoint")
	return cmd
}
