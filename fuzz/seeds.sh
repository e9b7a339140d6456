#!/usr/bin/env bash
# Makes the seed corpora in corpus/<target>/ with the real openssl: small valid inputs of every
# kind each target reads, so the fuzzer starts from structure rather than noise. Run once; the
# seeds are committed (a few KB each). Crashes found later are added beside them by hand.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
c=corpus; mkdir -p $c/{frame,mime,open,ber,certificates,crl,ocsp,pkcs12,config,native_messaging}
o() { openssl "$@" 2>/dev/null; }

# A CA, a user with an address, an OCSP index.
cd "$work"
o req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj /CN=Seed-CA \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
o req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ann.key -out ann.csr -subj /CN=Ann
printf 'subjectAltName=email:ann@example.com\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=emailProtection\n' > ann.ext
o x509 -req -in ann.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 -extfile ann.ext -out ann.pem
printf 'From: ann@example.com\r\nTo: bob@example.com\r\nSubject: Seed\r\n =?utf-8?q?folded?=\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Hi=3D</p>\r\n--b2--\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b1--\r\n' > mail.eml
o cms -sign -in mail.eml -signer ann.pem -inkey ann.key -out signed.eml
o cms -sign -nodetach -in mail.eml -signer ann.pem -inkey ann.key -out opaque.eml
o cms -encrypt -aes256 -in mail.eml -out enveloped.eml ann.pem
o cms -sign -nodetach -binary -outform DER -in mail.eml -signer ann.pem -inkey ann.key -out signed.der
o cms -sign -nodetach -stream -indef -binary -outform DER -in mail.eml -signer ann.pem -inkey ann.key -out signed.ber
touch index.txt; echo 01 > crlnumber
printf '[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=7\n' > ca.cnf
o ca -config ca.cnf -keyfile ca.key -cert ca.pem -revoke ann.pem -crl_reason keyCompromise
o ca -config ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out ca.crl
o crl -in ca.crl -outform DER -out ca.crl.der
o ocsp -issuer ca.pem -cert ann.pem -reqout req.der -no_nonce
o ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin req.der -respout resp.der
o pkcs12 -export -inkey ann.key -in ann.pem -certfile ca.pem -passout pass:password -out ann.p12
cd - >/dev/null

cp "$work"/mail.eml "$work"/signed.eml "$work"/opaque.eml "$work"/enveloped.eml $c/mime/
cp "$work"/signed.eml "$work"/opaque.eml "$work"/enveloped.eml $c/open/
cp "$work"/signed.der "$work"/signed.ber $c/ber/
cp "$work"/ca.pem "$work"/ann.pem $c/certificates/
openssl x509 -in "$work"/ann.pem -outform DER -out $c/certificates/ann.der
cp "$work"/ca.crl "$work"/ca.crl.der $c/crl/
cp "$work"/resp.der $c/ocsp/
cp "$work"/ann.p12 $c/pkcs12/
printf '{"jsonrpc":"2.0","id":1,"method":"daemon.hello","params":{"protocol_versions":[1]}}\n{"jsonrpc":"2.0","id":"a","method":"smime.sign","params":{"message":"RnJvbTogYQ0KDQpi","key_id":"00"}}\n{"jsonrpc":"2.0","id":2,"method":"stream.write","params":{"stream":"s1","data":"AA=="}}\n{"jsonrpc":"2.0","id":3,"method":"ca.issue","params":{"kind":"individual","email":"a@b.c","key":{"generate":{"algorithm":"ec-p256","pkcs12_password":"x"}}}}\n' > $c/frame/requests
printf 'log_level = "debug"\nrevocation = "hard-fail"\ntrusted_ca_files = ["/etc/ca.pem"]\n[compose]\nsign = "required"\nencrypt_required_domains = ["example.com"]\n[ca]\nvalidity_days = 365\ncrl_url = "http://pki.example.com/ca.crl"\n[directory]\nurl = "ldap://127.0.0.1:389"\nbase_dn = "dc=example,dc=com"\n' > $c/config/config.toml
python3 - "$c/native_messaging/two" <<'PY'
import struct, sys
msgs = [b'{"id":1,"method":"daemon.hello","params":{}}', b'{"id":2,"method":"smime.open","params":{"message":"TUlNRQ=="}}']
open(sys.argv[1], "wb").write(b"".join(struct.pack("=I", len(m)) + m for m in msgs))
PY
ls -la $c/*
