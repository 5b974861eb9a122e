#!/bin/sh
# Downloads the source lists that ../shared/data does not hold, at pinned commits, into
# tools/sources/ (git-ignored), and checks their SHA-256. Then:
#   cargo run --example build_lists
set -eu
dir="$(dirname "$0")/sources"
mkdir -p "$dir"
fetch() { # name repo commit path sha256
    url="https://raw.githubusercontent.com/$2/$3/$4"
    [ -f "$dir/$1" ] || curl -fsSL "$url" -o "$dir/$1"
    echo "$5  $dir/$1" | sha256sum -c -
}
HAGEZI=ones20250/hagezi-mirror-backup
HAGEZI_AT=7190126b916ca30d63e51e50c3372d4e24d38861
BP=blocklistproject/Lists
BP_AT=ee3bdbaddf49c756cf3340bb2e6a9dee5282d1c6
UT1=olbat/ut1-blacklists
UT1_AT=804da92a9177149204d9a3d0c4ab5bd1cafe120d
fetch hagezi-tif.mini.domains $HAGEZI $HAGEZI_AT dns-blocklists/wildcard/tif.mini-onlydomains.txt ec6f5678f180a53d1e4f1ee89a4ad30724e835f6a32f5d225b392f351549f43c
fetch blocklistproject-ransomware.hosts $BP $BP_AT ransomware.txt a5f777e07f2636c17f2f4027d65e2ce30782b5500da33c26660300847ca79f1b
fetch blocklistproject-phishing.domains $BP $BP_AT alt-version/phishing-nl.txt fe48504cad11b592353e4f4412826967e109e28a4de1266202543481e4c7e967
fetch ut1-phishing.domains $UT1 10d4b89bd6e9eb9b12e78179d9e156acafb4fd10 blacklists/phishing/domains 5b56bdee268aad2c739b971407e477c943da7bd7afb7f33a5590a9ce7455cadc
fetch ut1-cryptojacking.domains $UT1 $UT1_AT blacklists/cryptojacking/domains c3540fff745db8d6a29b756789049fb6eaabe4e1b5a454029afefd1235937e82
fetch ut1-stalkerware.domains $UT1 $UT1_AT blacklists/stalkerware/domains 6c8f65f5db907dd75155aa5d4071b0da777d41ed396ceb4178885a7ad84af2c9
fetch ut1-arjel.domains $UT1 $UT1_AT blacklists/arjel/domains 55bf3f5a15743f61a16ea6dc735e1262a4b8ca3a003080e4cd03a40e19575a65
