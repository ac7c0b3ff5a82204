# Sourced by scripts/install-livekit-server and scripts/install-helm: one pinned Go program in
# .tools/bin (ignored by git), built once with `go install` from the Go module proxy and kept
# while the module version recorded in the binary (`go version -m`) is the pinned one.

# The Go toolchain, or nothing: PATH first, then where the official archive installs it.
go_binary() {
  command -v go 2>/dev/null || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } || true
}

# go_tool NAME PACKAGE MODULE VERSION: prints the path of .tools/bin/NAME, building PACKAGE at
# VERSION first unless the binary there was built from MODULE at VERSION. Exit 3 without Go.
go_tool() {
  local name=$1 package=$2 module=$3 version=$4
  local repo_root bin_dir target go_bin build_dir built
  repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  bin_dir="$repo_root/.tools/bin"
  target="$bin_dir/$name"
  go_bin=$(go_binary)
  if [ -z "$go_bin" ]; then
    return 3
  fi
  if [ -x "$target" ] && [ "$("$go_bin" version -m "$target" 2>/dev/null \
      | awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }')" = "$version" ]; then
    echo "$target"
    return 0
  fi
  echo "building $name ($module $version) with $("$go_bin" version); once, a few minutes on a cold cache" >&2
  mkdir -p "$bin_dir"
  # Built aside and moved in whole, so an interrupted build never leaves a half binary behind.
  build_dir=$(mktemp -d "$bin_dir/.build.XXXXXX")
  GOBIN="$build_dir" GOFLAGS=-buildvcs=false "$go_bin" install "$package@$version" >&2 \
    || { rm -rf "$build_dir"; return 1; }
  built="$build_dir/$(basename "$package")"
  mv -f "$built" "$target" || { rm -rf "$build_dir"; return 1; }
  rm -rf "$build_dir"
  echo "$target"
}
