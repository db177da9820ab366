package yamldoc

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type limits struct {
	Samples int           `yaml:"samples"`
	Timeout time.Duration `yaml:"timeout"`
	APIKey  string        `yaml:"api_key"`
}

func decodeLimits(t *testing.T, src string, env map[string]string) error {
	t.Helper()
	doc, err := Parse("c.yaml", []byte(src))
	require.NoError(t, err)
	var v limits
	return doc.Decode(&v, func(k string) (string, bool) { s, ok := env[k]; return s, ok })
}

func TestDecodeRefusesFractionForAnInteger(t *testing.T) {
	t.Parallel()
	err := decodeLimits(t, "samples: 2.5\n", nil)
	require.EqualError(t, err, `c.yaml:1: samples: cannot use "2.5" here (want a whole number)`)
	err = decodeLimits(t, "samples: 1e9\n", nil)
	require.EqualError(t, err, `c.yaml:1: samples: cannot use "1e9" here (want a whole number)`)
	err = decodeLimits(t, "timeout: 1.5\n", nil)
	require.EqualError(t, err, `c.yaml:1: timeout: cannot use float "1.5" here (want Duration)`)
	require.NoError(t, decodeLimits(t, "samples: 3\ntimeout: 30s\n", nil))
}

func TestDecodeRefusesFractionFromAVariable(t *testing.T) {
	t.Parallel()
	err := decodeLimits(t, "samples: ${N}\n", map[string]string{"N": "2.5"})
	require.ErrorContains(t, err, "c.yaml:1: samples: cannot use")
	require.ErrorContains(t, err, "want a whole number")
}

func TestUnknownFieldErrorNamesTheMisspeltFieldNotTheVariable(t *testing.T) {
	t.Parallel()
	err := decodeLimits(t, "api_kye: ${KEY}\n", map[string]string{"KEY": "sk-live-0123456789abcdef"})
	require.EqualError(t, err, `c.yaml:1: unknown field "api_kye"`)
	require.NotContains(t, err.Error(), "sk-live")
}

func TestReadFileRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "suite.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for path, kind := range map[string]string{fifo: "a FIFO", "/dev/zero": "a character device", dir: "a folder"} {
		start := time.Now()
		_, err := ReadFile(path)
		require.EqualError(t, err, "read "+path+": not a regular file ("+kind+")")
		require.Less(t, time.Since(start), 2*time.Second, "refused without waiting or reading")
	}
}

func TestReadRegularCapsTheSize(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(p, make([]byte, 1001), 0o600))
	_, err := ReadRegular(p, 1000)
	require.EqualError(t, err, "read "+p+": 1001 bytes, more than the limit of 1000")
	b, err := ReadRegular(p, 1001)
	require.NoError(t, err)
	require.Len(t, b, 1001)
}
