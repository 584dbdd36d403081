#!/usr/bin/env bash
# make-seeds.sh: writes the starting inputs of the fuzz targets into fuzz/corpus/
# (files named seed-*): the repository's spreadsheet fixtures and a few CSV files for
# read_workbook (the first byte picks the file name's extension: 0 .xlsx, 1 .xls,
# 2 .ods, 3 .csv), hand-written raw messages for classify, and RFC 8601's example
# headers with those real servers write for auth_results. Made-up names and numbers
# only. The committed corpus already holds these and what the fuzzer found from them
# (`cargo fuzz cmin` keeps it small): run this only to start a corpus afresh.
#
# Usage, from anywhere:   bash fuzz/make-seeds.sh
set -euo pipefail

fuzz="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fixtures="$fuzz/../tests/fixtures"
mkdir -p "$fuzz/corpus/auth_results" "$fuzz/corpus/classify" "$fuzz/corpus/read_workbook"

# --- read_workbook: the selector byte, then the file.
workbook="$fuzz/corpus/read_workbook"
selector() {
  case "$1" in
    *.xlsx) printf '\0' ;;
    *.xls) printf '\1' ;;
    *.ods) printf '\2' ;;
    *.csv) printf '\3' ;;
  esac
}
for file in "$fixtures"/*.xlsx "$fixtures"/*.xls "$fixtures"/*.ods \
  "$fixtures"/hostile/*.xlsx "$fixtures"/hostile/*.xls "$fixtures"/hostile/*.ods; do
  name="$(basename "$file")"
  case "$file" in */hostile/*) name="hostile-$name" ;; esac
  { selector "$file"; cat "$file"; } >"$workbook/seed-$name"
done
complaint_header='Provider NPI,Provider Medicaid ID,Provider Name,MCO,MCO Tracking Number,Date Filed with MCO,Internal Process Exhausted,Coverage,Claim Number,Recipient ID,Date of Service From,Date of Service To,Billed Amount,Paid Amount,Issue Category,Issue Description'
{
  printf '\3%s\r\n' "$complaint_header"
  printf '1234567893,123456,Example Clinic,MOLINA,00777,10/11/2026,Yes,Medicaid managed care,C1,12345678,2026-09-01,,$100.00,,Other,Denied\r\n'
} >"$workbook/seed-complaint.csv"
{
  printf '\3%s\n' "${complaint_header//,/;}"
  printf '"1234567893";"123456";"Example ""Quoted"" Clinic";"MOLINA";"00777";"2026-10-11";"No";"Medicaid managed care";"C1";"12345678";"9/1/2026";"9/2/2026";"1.234,50";"0";"Other";"=1+1"\n'
} >"$workbook/seed-complaint-semicolons.csv"
# UTF-16 little-endian with its byte order mark, as Excel's "Unicode text" saves.
{
  printf '\3\xff\xfe'
  printf 'Registrant First Name\tPat\r\nRegistrant Email\tbilling@clinic.example\r\nProvider NPI\t1234567893\r\n' |
    iconv -f UTF-8 -t UTF-16LE
} >"$workbook/seed-registration-utf16.csv"
printf '\3Registrant First Name,Pat\nRegistrant Last Name,Example\nRegistrant Email,Billing@Clinic.Example\nProvider NPI,1234567893\nProvider Medicaid ID,000123456\nState,il\nZIP,62701\n' \
  >"$workbook/seed-registration.csv"
printf '\3Ticket,Row,Provider NPI,MCO Decision,Comment\r\nPRP-2026-000123,2,1234567893,Paid,x\r\n' \
  >"$workbook/seed-response.csv"

# --- classify: raw messages, CRLF line ends.
mail="$fuzz/corpus/classify"
eml() { sed 's/$/\r/' >"$mail/seed-$1.eml"; }
eml plain <<'MSG'
From: "Pat Example" <Pat@Clinic.Example>
To: intake@portal.example.gov
Subject: Re: [PRP-2026-000123] Complaint closed
Message-ID: <abc@clinic.example>
In-Reply-To: <portal.7.x@portal.example.gov>
References: <a@b.example> <portal.7.x@portal.example.gov>
Authentication-Results: mx.portal.test;
	dkim=pass (2048-bit key) header.d=clinic.example header.i=@clinic.example;
	spf=pass smtp.mailfrom=clinic.example;
	dmarc=pass (p=reject) header.from=clinic.example
Date: Wed, 25 Nov 2026 09:00:00 -0600
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Thanks.
MSG
eml attachment <<'MSG'
From: billing@clinic.example
To: intake@portal.example.gov
Subject: =?UTF-8?B?w6l0w6kgY29tcGxhaW50?=
Message-ID: <att@clinic.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

See the attached file, caf=E9.
--alt
Content-Type: text/html; charset=utf-8

<p>See the attached file.</p>
--alt--
--outer
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fcla%C3%AFms.xlsx
Content-Transfer-Encoding: base64

UEsDBBQAAAAIAAAAIQA=
--outer
Content-Type: text/csv; name="=?UTF-8?Q?claims=5F2.csv?="
Content-Disposition: attachment

a,b
1,2
--outer--
MSG
eml forwarded <<'MSG'
From: office@clinic.example
To: intake@portal.example.gov
Subject: Fwd: original
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="o"

--o
Content-Type: text/plain

fyi
--o
Content-Type: message/rfc822

From: b@c.example
Subject: original
Authentication-Results: inner.example; dkim=pass header.d=c.example
Content-Type: multipart/mixed; boundary="i"

--i
Content-Type: text/plain

see attached
--i
Content-Type: text/csv
Content-Disposition: attachment; filename="claims.csv"

a,b
--i--
--o--
MSG
eml bounce <<'MSG'
From: MAILER-DAEMON@mx.clinic.example
To: intake@portal.example.gov
Subject: Undelivered Mail Returned to Sender
Return-Path: <>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail could not be delivered.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.clinic.example
Final-Recipient: rfc822; nobody@clinic.example
Action: failed
Status: 5.1.1
--b
Content-Type: text/rfc822-headers

From: intake@portal.example.gov
Subject: [PRP-2026-000123] Complaint received
--b--
MSG
eml list <<'MSG'
From: news@lists.example
To: intake@portal.example.gov
Subject: Weekly news
List-Id: <providers.lists.example>
List-Unsubscribe: <mailto:leave@lists.example>
Precedence: bulk
X-Auto-Response-Suppress: All
Content-Type: text/plain

News.
MSG
eml encoded <<'MSG'
From: =?Shift_JIS?B?gqiW4oKijYeC7YK5?= <a@clinic.example>
To: intake@portal.example.gov
Subject: =?GBK?B?zbbL3w==?= [INQ-2026-000001]
Message-ID: <a b@x.example>
Content-Type: multipart/mixed; boundary=b
Content-Transfer-Encoding: 7bit

--b
Content-Type: application/octet-stream; name*0="long"; name*1="-name.xls"
Content-Disposition: attachment; filename*0*=iso-8859-1''caf%E9; filename*1=".ods"
Content-Transfer-Encoding: uuencode

begin 644 x.ods
#86)C
`
end
--b--
MSG
printf 'From: a@b.example\nSubject: bare LF\n\nno CR at all\n' >"$mail/seed-lf.eml"

# --- auth_results: header values (what follows the colon).
auth="$fuzz/corpus/auth_results"
n=0
while IFS= read -r header; do
  n=$((n + 1))
  printf '%b' "$header" >"$auth/seed-$n"
done <<'HEADERS'
example.org 1; none
example.com;\r\n          spf=pass smtp.mailfrom=example.net
example.com;\r\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n          spf=pass smtp.mailfrom=example.net
example.com; iprev=pass policy.iprev=192.0.2.200
example.com;\r\n              dkim=pass reason="good signature"\r\n                header.i=@mail-router.example.net;\r\n              dkim=fail reason="bad signature"\r\n                header.i=@newyork.example.com
example.com;\r\n    sender-id=fail header.from=example.com;\r\n    dkim=pass (good signature) header.d=example.com
example.com;\r\n    dkim=pass (good signature) header.d=newyork.example.com
mx.portal.test; dkim=pass header.d=clinic.example header.s=sel header.b=Ab+/=cd; dmarc=pass (p=reject dis=none) header.from=clinic.example
mx.google.com;\r\n       dkim=pass header.i=@clinic.example header.s=20230601 header.b=abcDEF12;\r\n       spf=pass (google.com: domain of a@clinic.example designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@clinic.example;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=clinic.example
spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=clinic.example; dkim=pass (signature was verified) header.d=clinic.example;dmarc=pass action=none header.from=clinic.example;compauth=pass reason=100
mx.portal.test (OpenDMARC); dmarc=fail (p=reject dis=reject) header.from=clinic.example
mx.portal.test/1; dkim/1=pass header.d=mail.clinic.co.uk; dmarc=none
"quoted \\"id\\" (not a comment)"; dkim=pass header.i="a b"@clinic.example
mx.portal.test (comment (nested (deeply)) here); ; arc=pass (i=1) smtp.remote-ip=192.0.2.1;
mx.portal.test; dkim=temperror reason="key \\"not\\" found" header.d=clinic.example; x-unknown=pass x.y=z
mx.portal.test; dkim=pass header.d=co.uk; dkim=pass header.d=clinic.example.
HEADERS
echo "seeds written under $fuzz/corpus"
