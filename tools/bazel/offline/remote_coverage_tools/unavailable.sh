#!/bin/sh
echo "coverage is not available offline in this workshop" >&2
exit 0
