#!/usr/bin/env bash
# Print the roots of Terraform filesystem mirrors on this machine, colon-separated, for
# INTENT_PROVIDER_MIRRORS. A mirror holds HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-*,
# so a root is five directories above each provider binary. Used by `make run`/`make test`
# when INTENT_PROVIDER_MIRRORS is not set; pass directories to search fewer places.
# Temporary directories (test fixtures) and intent's own data directories are skipped.
set -euo pipefail
roots=("$@")
[ ${#roots[@]} -gt 0 ] || roots=(/)
find "${roots[@]}" \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /var/tmp \
    -o -name .git -o -name node_modules -o -name .intent -o -name .venv \) -prune \
  -o -type f -name 'terraform-provider-*' -print 2>/dev/null \
  | while read -r binary; do
      platform_dir=$(dirname "$binary")
      version_dir=$(dirname "$platform_dir")
      root=$(dirname "$(dirname "$(dirname "$(dirname "$version_dir")")")")
      # Only the mirror layout: .../VERSION/OS_ARCH/binary
      if [[ $(basename "$platform_dir") == *_* && $(basename "$version_dir") =~ ^[0-9]+\.[0-9]+ \
            && "$root" != "/" ]]; then
        echo "$root"
      fi
    done | sort -u | paste -sd: -
