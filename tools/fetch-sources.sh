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
# UT1 categories that are not harmful: negatives for the classifier and keywords.
fetch ut1-shopping.domains $UT1 $UT1_AT blacklists/shopping/domains 3e3f8e3d6c366e13b1a7b4e8d431442751488de93c345ee424183e57370cad70
fetch ut1-press.domains $UT1 $UT1_AT blacklists/press/domains d6586d33219000621678d531472dbea567a193c54ca47cf2502de7a1e6d35a51
fetch ut1-sports.domains $UT1 $UT1_AT blacklists/sports/domains 703f24e512a402aa3e5dcf8a584c0b3c561a0ac63cbc4e24f41cc541280835a9
fetch ut1-jobsearch.domains $UT1 $UT1_AT blacklists/jobsearch/domains f48747d4f4ba46c1c530d89f5f67417d772d638214567ab8efff20ce5504ee9a
fetch ut1-bank.domains $UT1 $UT1_AT blacklists/bank/domains 6028b816d861fa6ddb8fc450658c91388ca99f131b9fa73b79c0bcd57d5c7921
fetch ut1-financial.domains $UT1 $UT1_AT blacklists/financial/domains e0cec9e4697d7494b811e74cf06f020a444c29d83dec74abeb77d690cbfd4b8a
fetch ut1-educational_games.domains $UT1 $UT1_AT blacklists/educational_games/domains 507c290e11ee1b458f3080845de76dc0e2cffab01966f576ff63e3c5a4d79769
fetch ut1-sexual_education.domains $UT1 $UT1_AT blacklists/sexual_education/domains a38e9270a32319b89a1231d302c52cb257be6f96dfb20af7bbdb7785bd60cd56
fetch ut1-child.domains $UT1 $UT1_AT blacklists/child/domains 693f53aaacfb6e5c5dd076c02ef9fc1d50761e8b465b570180692661e596443d
fetch ut1-radio.domains $UT1 $UT1_AT blacklists/radio/domains fd23d02384222ddb249318cce044fcbbf06c606678ec96f0ce0cb5e872612f42
fetch ut1-blog.domains $UT1 $UT1_AT blacklists/blog/domains 0ad3bd822cd825b21d002cd515823a4f8a27b75471139fe4e567378c45f90034
fetch ut1-forums.domains $UT1 $UT1_AT blacklists/forums/domains 877e92edf0a38841ab7da6f0241c2eb74906b4b2d534cad2b42be5761810722f
fetch ut1-cooking.domains $UT1 $UT1_AT blacklists/cooking/domains 743ac51cec036cb303b5b74eb33eeab3be5f1241f6825e631792afb89fb31f0f
fetch ut1-translation.domains $UT1 $UT1_AT blacklists/translation/domains 3b910d1901c379dc0f903bcdcaec6965f43820972006a71b0a1b6f997a44bd86
fetch ut1-webmail.domains $UT1 $UT1_AT blacklists/webmail/domains 60759b569fdd8ce66e239e48fcbf306ba96b4a9a5a32f0da6f767e41e4a845ba
fetch ut1-liste_blanche.domains $UT1 $UT1_AT blacklists/liste_blanche/domains 6ef40b0d6e1530c58810a4ce7417387d445d7bf14dbd0e97c938adc15771e1ea
