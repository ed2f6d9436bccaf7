#!/bin/sh
# privcheck.sh - list the instructions in a guest image that need ring 0 (or
# that fault at CPL3 on a PV guest), skipping the hypercall page (int3 filler
# the hypervisor overwrites). Fails unless the list equals the allowed one.
#
#   privcheck.sh <llvm-objdump> <image.elf> "<allowed>"
#
# <allowed> is what the summary must read, e.g. "hlt x1", or "" for none.
set -eu
objdump=$1
elf=$2
allowed=$3

# Privileged or CPL0-only mnemonics (AT&T spelling, with size suffixes),
# plus ones that fault at CPL3 under UMIP or without CR4 enables.
priv='hlt|cli|sti|clts|lgdtq?|lidtq?|lldt[wlq]?|ltr[wlq]?|lmsw[wlq]?|invlpg|invlpga|invpcid|invd|wbinvd|wrmsr|rdmsr|rdpmc|swapgs|sysretq?|sysexitq?|iretq?|iretl|in[bwl]?|ins[bwl]?|out[bwl]?|outs[bwl]?|xsetbv|monitor|mwait|sgdtq?|sidtq?|sldt[wlq]?|smsw[wlq]?|str[wlq]?|[rw]d[fg]sbase[lq]?|vmcall|vmmcall|int|into'

found=$("$objdump" -d --no-show-raw-insn "$elf" |
    awk '/^[0-9a-f]+ <[^>]*>:$/ { sym = $2; next }
         sym != "<hypercall_page>:" && NF >= 2 { $1 = ""; print }' |
    awk -v re="^($priv)\$" '
        { m = $1 }
        m ~ re || /%cr[0-9]|%dr[0-9]/ { n[m]++ }
        END { for (k in n) printf "%s x%d\n", k, n[k] }' |
    sort | paste -sd, - | sed 's/,/, /g')

name=$(basename "$elf" .elf)
if [ "$found" != "$allowed" ]; then
    echo "$name: privileged instructions: '$found' (allowed: '$allowed')" >&2
    exit 1
fi
echo "$name: privileged instructions: ${found:-none} ok"
