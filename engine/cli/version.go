// version and info in Docker's shape (docker/cli cli/command/system), saying
// that the engine is nslab: its version and commit, the Go it was built
// with, the kernel it runs on. --format takes a template over the same
// fields as Docker's, and "json".

package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// apiVersion is the Docker API version whose behaviour nslab follows
// (Docker 24). nslab's own socket speaks its own protocol, not HTTP.
const apiVersion = "1.43"

// buildInfo is nslab's version, commit and build time from the Go build
// information ("dev" and "unknown" for a build without them, such as a
// test binary).
func buildInfo() (version, commit, built string) {
	version, commit, built = "dev", "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
			if len(commit) > 7 {
				commit = commit[:7]
			}
		case "vcs.time":
			built = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				commit += "-dirty"
			}
		}
	}
	return
}

// Platform names the product, as Docker's "Docker Engine - Community".
type Platform struct{ Name string }

// ClientVersion is docker version's Client section.
type ClientVersion struct {
	Platform          *Platform `json:",omitempty"`
	Version           string
	APIVersion        string `json:"ApiVersion"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string
	GoVersion         string
	Os                string
	Arch              string
	BuildTime         string `json:",omitempty"`
	Context           string
}

// ComponentVersion is one component of the server.
type ComponentVersion struct {
	Name    string
	Version string
	Details map[string]string `json:",omitempty"`
}

// ServerVersion is docker version's Server section (types.Version).
type ServerVersion struct {
	Platform      Platform
	Components    []ComponentVersion `json:",omitempty"`
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:",omitempty"`
	GitCommit     string
	GoVersion     string
	Os            string
	Arch          string
	KernelVersion string `json:",omitempty"`
	Experimental  bool   `json:",omitempty"`
	BuildTime     string `json:",omitempty"`
}

// VersionInfo is what docker version's template sees.
type VersionInfo struct {
	Client *ClientVersion
	Server *ServerVersion
}

// ServerOK is whether the server answered.
func (v VersionInfo) ServerOK() bool { return v.Server != nil }

// defaultVersionTemplate is Docker 24's, with a Kernel line for every
// component that has one (nslab's engine does).
const defaultVersionTemplate = `{{with .Client -}}
Client:{{if .Platform}} {{.Platform.Name}}{{end}}
 Version:	{{.Version}}
 API version:	{{.APIVersion}}
 Go version:	{{.GoVersion}}
 Git commit:	{{.GitCommit}}
 Built:	{{.BuildTime}}
 OS/Arch:	{{.Os}}/{{.Arch}}
 Context:	{{.Context}}
{{- end}}

{{- if .ServerOK}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Kernel:	{{index .Details "KernelVersion"}}
  Experimental:	{{index .Details "Experimental"}}
 {{- end}}
 {{- end}}{{- end}}
`

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func machineArch() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return runtime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func clientVersion() *ClientVersion {
	v, commit, built := buildInfo()
	return &ClientVersion{
		Platform: &Platform{Name: "nslab"}, Version: v, APIVersion: apiVersion, DefaultAPIVersion: apiVersion,
		GitCommit: commit, GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH,
		BuildTime: built, Context: "default",
	}
}

// serverVersion describes the daemon: nslab's own binary, so the same
// build, in the lab host whose kernel is the machine's.
func serverVersion() *ServerVersion {
	v, commit, built := buildInfo()
	s := &ServerVersion{
		Platform: Platform{Name: "nslab Engine"}, Version: v, APIVersion: apiVersion, MinAPIVersion: "1.12",
		GitCommit: commit, GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH,
		KernelVersion: kernelRelease(), BuildTime: built,
	}
	s.Components = []ComponentVersion{{Name: "Engine", Version: v, Details: map[string]string{
		"ApiVersion": apiVersion, "MinAPIVersion": "1.12", "GitCommit": commit, "GoVersion": s.GoVersion,
		"Os": s.Os, "Arch": s.Arch, "KernelVersion": s.KernelVersion, "BuildTime": built, "Experimental": "false",
	}}}
	return s
}

// templateError is Docker's answer to a bad version or info template:
// status 64.
func templateError(err error) error {
	return statusError{status: "template parsing error: " + err.Error(), code: 64}
}

func versionCmd() *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the nslab version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "":
				format = defaultVersionTemplate
			case jsonFormatKey:
				format = jsonFormat
			}
			tmpl, err := template.New("version").Funcs(templateFuncs()).Parse(format)
			if err != nil {
				return templateError(err)
			}
			info := VersionInfo{Client: clientVersion()}
			// The daemon is asked, as Docker's CLI asks its daemon: the
			// server section is there only when it answers.
			var ps []api.PsEntry
			serverErr := call(api.PsRequest{}, &ps)
			if serverErr == nil {
				info.Server = serverVersion()
			}
			tw := tabwriter.NewWriter(os.Stdout, 20, 1, 1, ' ', 0)
			if err := tmpl.Execute(tw, info); err != nil {
				tw.Flush()
				return fmt.Errorf("template: %w", err)
			}
			tw.Write([]byte("\n"))
			tw.Flush()
			return serverErr
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return c
}

// ClientInfo is docker info's client section.
type ClientInfo struct {
	Version   string
	Context   string
	Debug     bool
	GoVersion string
	GitCommit string
}

// PluginsInfo lists the drivers the daemon has.
type PluginsInfo struct {
	Volume  []string
	Network []string
	Log     []string
}

// Info is docker info's server section (types.Info, the fields nslab can
// fill honestly).
type Info struct {
	Containers         int
	ContainersRunning  int
	ContainersPaused   int
	ContainersStopped  int
	Images             int
	Driver             string
	DriverStatus       [][2]string
	Plugins            PluginsInfo
	LoggingDriver      string
	CgroupDriver       string
	CgroupVersion      string
	KernelVersion      string
	OperatingSystem    string
	OSType             string
	Architecture       string
	NCPU               int
	MemTotal           int64
	DockerRootDir      string
	Name               string
	ServerVersion      string
	Swarm              struct{ LocalNodeState string }
	Debug              bool
	ExperimentalBuild  bool
	LiveRestoreEnabled bool
}

// infoData is what docker info's template sees: the server's fields at the
// top, and ClientInfo.
type infoData struct {
	*Info
	ClientInfo ClientInfo
}

// osName is the machine's PRETTY_NAME from os-release: a container's lab
// host shares the machine's root.
func osName() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return v
		}
	}
	return ""
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// bytesSize is go-units' BytesSize: binary units, four significant digits.
func bytesSize(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", n, units[i])
}

// serverInfo gathers info from the daemon's lists and the lab host.
func serverInfo() (*Info, error) {
	var ps []api.PsEntry
	if err := call(api.PsRequest{All: true}, &ps); err != nil {
		return nil, err
	}
	var images []api.ImageEntry
	if err := call(api.ImagesRequest{}, &images); err != nil {
		return nil, err
	}
	v, _, _ := buildInfo()
	in := &Info{
		Driver: "overlay2", DriverStatus: [][2]string{{"Backing Filesystem", "tmpfs"}, {"Supports d_type", "true"}},
		Plugins:       PluginsInfo{Network: []string{"bridge", "host", "null"}, Log: []string{"json-file"}},
		LoggingDriver: "json-file", CgroupDriver: "none", KernelVersion: kernelRelease(), OperatingSystem: osName(),
		OSType: "linux", Architecture: machineArch(), NCPU: runtime.NumCPU(), MemTotal: memTotal(),
		DockerRootDir: labhost.StateDir, ServerVersion: "nslab-" + v,
	}
	in.Swarm.LocalNodeState = "inactive"
	in.Name, _ = os.Hostname()
	for _, c := range ps {
		in.Containers++
		if c.Running {
			in.ContainersRunning++
		} else {
			in.ContainersStopped++
		}
	}
	ids := map[string]bool{}
	for _, im := range images {
		ids[im.ID] = true
	}
	in.Images = len(ids)
	return in, nil
}

// printInfo prints info as Docker 24's prettyPrintInfo does.
func printInfo(w io.Writer, d infoData) {
	fmt.Fprintln(w, "Client: nslab")
	fmt.Fprintln(w, " Version:   ", d.ClientInfo.Version)
	fmt.Fprintln(w, " Context:   ", d.ClientInfo.Context)
	fmt.Fprintln(w, " Debug Mode:", d.ClientInfo.Debug)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Server:")
	in := d.Info
	if in == nil {
		return
	}
	fmt.Fprintln(w, " Containers:", in.Containers)
	fmt.Fprintln(w, "  Running:", in.ContainersRunning)
	fmt.Fprintln(w, "  Paused:", in.ContainersPaused)
	fmt.Fprintln(w, "  Stopped:", in.ContainersStopped)
	fmt.Fprintln(w, " Images:", in.Images)
	fmt.Fprintln(w, " Server Version:", in.ServerVersion)
	fmt.Fprintln(w, " Storage Driver:", in.Driver)
	for _, p := range in.DriverStatus {
		fmt.Fprintf(w, "  %s: %s\n", p[0], p[1])
	}
	fmt.Fprintln(w, " Logging Driver:", in.LoggingDriver)
	fmt.Fprintln(w, " Cgroup Driver:", in.CgroupDriver)
	fmt.Fprintln(w, " Plugins:")
	fmt.Fprintln(w, "  Volume:", strings.Join(in.Plugins.Volume, " "))
	fmt.Fprintln(w, "  Network:", strings.Join(in.Plugins.Network, " "))
	fmt.Fprintln(w, "  Log:", strings.Join(in.Plugins.Log, " "))
	fmt.Fprintln(w, " Swarm:", in.Swarm.LocalNodeState)
	fmt.Fprintln(w, " Kernel Version:", in.KernelVersion)
	fmt.Fprintln(w, " Operating System:", in.OperatingSystem)
	fmt.Fprintln(w, " OSType:", in.OSType)
	fmt.Fprintln(w, " Architecture:", in.Architecture)
	fmt.Fprintln(w, " CPUs:", in.NCPU)
	fmt.Fprintln(w, " Total Memory:", bytesSize(float64(in.MemTotal)))
	fmt.Fprintln(w, " Name:", in.Name)
	fmt.Fprintln(w, " Docker Root Dir:", in.DockerRootDir)
	fmt.Fprintln(w, " Debug Mode:", in.Debug)
	fmt.Fprintln(w, " Experimental:", in.ExperimentalBuild)
	fmt.Fprintln(w, " Live Restore Enabled:", in.LiveRestoreEnabled)
	fmt.Fprintln(w)
}

func infoCmd() *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var tmpl *template.Template
			if format != "" {
				if format == jsonFormatKey {
					format = jsonFormat
				}
				var err error
				if tmpl, err = parseTemplate("", format); err != nil {
					return templateError(err)
				}
			}
			v, commit, _ := buildInfo()
			d := infoData{ClientInfo: ClientInfo{Version: v, Context: "default", GoVersion: runtime.Version(), GitCommit: commit}}
			in, err := serverInfo()
			if err != nil {
				if tmpl == nil {
					printInfo(os.Stdout, d)
				}
				return err
			}
			d.Info = in
			if tmpl == nil {
				printInfo(os.Stdout, d)
				return nil
			}
			if err := tmpl.Execute(os.Stdout, d); err != nil {
				return fmt.Errorf("template: %w", err)
			}
			fmt.Println()
			return nil
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return c
}
