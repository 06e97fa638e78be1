#!/usr/bin/env python3
"""Holds layersift's SigV4 signer against botocore's on random requests.

Random requests (methods, paths with reserved characters, spaces, UTF-8, dot segments and
%-escapes, queries with repeated keys and characters that need encoding, headers with mixed-case
names and untidy whitespace, bodies, regions, services, session tokens, signing times) are signed
by botocore's SigV4Auth and by sigv4_sign_tool (header mode), and the canonical request, string to
sign, signature and the headers each adds must agree exactly.

The inputs stay where botocore and the SigV4 spec agree:
  - service is never s3 (botocore's S3 signer neither normalizes nor double-encodes the path);
  - no header that botocore leaves unsigned (its SIGNED_HEADERS_BLACKLIST), and none that it
    replaces while signing (Date, X-Amz-Date, Authorization, X-Amz-Security-Token);
  - the query goes to botocore as decoded parameters (request.params), since for a query in the
    URL botocore signs the text as written, neither decoded nor encoded; the tool gets it
    %-encoded in a random mix of styles;
  - header values hold no non-ASCII whitespace (Python's str.split() folds U+00A0 and others);
  - both hash the body into the canonical request (botocore does over http); with sign_body
    the tool also adds and signs x-amz-content-sha256, so botocore's request gets that header,
    with the hash botocore's own SigV4Auth.payload computes (botocore then reads it from there).

Usage: sigv4_botocore_test.py --tool PATH [--seed N] [--count N]
"""

import argparse
import contextlib
import datetime
import json
import random
import subprocess
import sys
import types
from unittest import mock

import botocore
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

DEFAULT_SEED = 20150830
DEFAULT_COUNT = 400
HOST_URL = 'http://example.amazonaws.com'

UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
RESERVED = "!$&'()*+,;=:@[]"
UTF8 = ['é', 'ß', 'ሴ', '日本', '😀', 'Ω']
# Headers botocore signs differently or replaces; the random names never hit these.
NOT_SIGNABLE = {'date', 'x-amz-date', 'authorization', 'x-amz-security-token',
                'x-amz-content-sha256', 'host'}
HEADER_NAMES = ['Content-Type', 'Accept', 'Cache-Control', 'If-None-Match', 'X-Amz-Target',
                'X-Amz-Meta-Owner', 'X-Custom', 'x-custom', 'X-CUSTOM', 'Content-Encoding',
                'X-Amz-Acl', 'Range']
REGIONS = ['us-east-1', 'eu-west-3', 'ap-southeast-2', 'cn-north-1', 'us-gov-west-1',
           'il-central-1']
SERVICES = ['ecr', 'ecr-public', 'sts', 'execute-api', 'dynamodb', 'sqs', 'es', 'lambda',
            'service']


def random_string(rng, alphabet, low, high):
    return ''.join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def percent_encode(text, rng):
    """%-encodes every UTF-8 byte of text, in upper or lower case hex."""
    form = '%{:02X}' if rng.random() < 0.7 else '%{:02x}'
    return ''.join(form.format(b) for b in text.encode('utf-8'))


def random_path(rng):
    segments = []
    for _ in range(rng.randint(0, 5)):
        kind = rng.random()
        if kind < 0.1:
            segments.append(rng.choice(['', '.', '..']))
        elif kind < 0.2:
            segments.append(rng.choice(['%20', '%2F', '%e1%88%b4', '%41', '%']))
        else:
            pieces = []
            for _ in range(rng.randint(1, 6)):
                choice = rng.random()
                if choice < 0.55:
                    pieces.append(rng.choice(UNRESERVED))
                elif choice < 0.75:
                    pieces.append(rng.choice(RESERVED))
                elif choice < 0.85:
                    pieces.append(' ')
                else:
                    pieces.append(rng.choice(UTF8))
            segments.append(''.join(pieces))
    path = '/' + '/'.join(segments)
    if segments and rng.random() < 0.3:
        path += '/'
    return path


def random_query_text(rng):
    pieces = []
    for _ in range(rng.randint(0, 8)):
        choice = rng.random()
        if choice < 0.6:
            pieces.append(rng.choice(UNRESERVED))
        elif choice < 0.8:
            pieces.append(rng.choice(RESERVED + '%#?/ '))
        else:
            pieces.append(rng.choice(UTF8))
    return ''.join(pieces)


def encode_query_text(text, rng):
    """Writes decoded text for the target: what would split the query ('&', '=', '#') or start an
    escape ('%') is always %-encoded, anything else raw or encoded at random."""
    out = []
    for char in text:
        if char in '%&=#' or rng.random() < 0.3:
            out.append(percent_encode(char, rng))
        else:
            out.append(char)
    return ''.join(out)


def random_query(rng):
    """Returns (decoded [(key, value)], query text as the target writes it)."""
    params = []
    keys = [random_query_text(rng) or 'k' for _ in range(3)]
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        key = rng.choice(keys) if rng.random() < 0.6 else random_query_text(rng)
        value = '' if rng.random() < 0.2 else random_query_text(rng)
        params.append((key, value))
    written = []
    for key, value in params:
        if not value and key and rng.random() < 0.5:
            written.append(encode_query_text(key, rng))  # "key" alone: an empty value
        else:
            written.append(encode_query_text(key, rng) + '=' + encode_query_text(value, rng))
    return params, '&'.join(written)


def random_header_value(rng):
    words = []
    for _ in range(rng.randint(0, 4)):
        word = random_string(rng, UNRESERVED + '!"#$%&\'()*+,/:;<=>?@[\\]^`{|}', 1, 8)
        if rng.random() < 0.1:
            word += rng.choice(UTF8)
        words.append(word)
    value = ''
    for i, word in enumerate(words):
        if i > 0:
            value += rng.choice([' ', ' ', '  ', '\t', ' \t  ', '\n  ', '\n\t'])
        value += word
    if rng.random() < 0.3:
        value = rng.choice([' ', '  ', '\t']) + value
    if rng.random() < 0.3:
        value += rng.choice([' ', '  ', '\t '])
    if rng.random() < 0.1:
        value = '"' + value + '"'
    return value


def random_headers(rng):
    headers = [(rng.choice(['Host', 'host', 'HOST']),
                rng.choice(['example.amazonaws.com', 'example.amazonaws.com:8443',
                            '123456789012.dkr.ecr.us-east-1.amazonaws.com']))]
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.5:
            name = rng.choice(HEADER_NAMES)
        else:
            name = 'X-' + random_string(rng, 'ABCabcxyzXYZ019-_.', 1, 10)
        if name.lower() in NOT_SIGNABLE or name.lower() in botocore.auth.SIGNED_HEADERS_BLACKLIST:
            continue
        headers.append((name, random_header_value(rng)))
    rng.shuffle(headers)
    return headers


def random_request(rng):
    path = random_path(rng)
    params, query = random_query(rng)
    target = path + ('?' + query if params else '')
    sign_body = rng.random() < 0.5
    body = '' if rng.random() < 0.3 else random_string(rng, UNRESERVED + ' {}":,\n' + ''.join(UTF8), 0, 60)
    token = ''
    if rng.random() < 0.4:
        token = random_string(rng, UNRESERVED[:62] + '+/', 20, 120) + rng.choice(['', '=', '=='])
    return {
        'method': rng.choice(['GET', 'POST', 'PUT', 'DELETE', 'HEAD']),
        'target': target,
        'path': path,
        'params': params,
        'headers': random_headers(rng),
        'body': body,
        'access_key_id': 'AKIA' + random_string(rng, UNRESERVED[:26] + '234567', 16, 16),
        'secret_access_key': random_string(rng, UNRESERVED[:62] + '+/', 40, 40),
        'session_token': token,
        'region': rng.choice(REGIONS),
        'service': rng.choice(SERVICES),
        'time': rng.randint(946684800, 4102444799),  # 2000 to 2099
        'sign_body': sign_body,
    }


@contextlib.contextmanager
def frozen_clock(epoch_seconds):
    """Makes SigV4Auth.add_auth read epoch_seconds as now: botocore 1.29 (Debian's) calls
    datetime.datetime.utcnow(), newer ones botocore.compat.get_current_datetime()."""
    moment = datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc).replace(tzinfo=None)

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return moment

        @classmethod
        def now(cls, tz=None):
            return moment if tz is None else moment.replace(tzinfo=datetime.timezone.utc).astimezone(tz)

    shim = types.SimpleNamespace(**{name: getattr(datetime, name) for name in dir(datetime)
                                    if not name.startswith('__')})
    shim.datetime = FrozenDatetime
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(botocore.auth, 'datetime', shim))
        if hasattr(botocore.auth, 'get_current_datetime'):
            stack.enter_context(mock.patch.object(botocore.auth, 'get_current_datetime',
                                                  lambda *args, **kwargs: moment))
        yield


class RecordingSigV4Auth(SigV4Auth):
    """SigV4Auth, keeping the canonical request and string to sign add_auth computes."""

    def canonical_request(self, request):
        self.recorded_canonical_request = super().canonical_request(request)
        return self.recorded_canonical_request

    def string_to_sign(self, request, canonical_request):
        self.recorded_string_to_sign = super().string_to_sign(request, canonical_request)
        return self.recorded_string_to_sign


def sign_with_botocore(spec):
    credentials = Credentials(spec['access_key_id'], spec['secret_access_key'],
                              spec['session_token'] or None)
    auth = RecordingSigV4Auth(credentials, spec['service'], spec['region'])
    url = HOST_URL + spec['path']
    # Guards the generator: botocore must see the very path the tool does.
    assert botocore.compat.urlsplit(url).path == spec['path'], spec['path']
    body = spec['body'].encode('utf-8')
    request = AWSRequest(method=spec['method'], url=url, params=list(spec['params']), data=body)
    for name, value in spec['headers']:
        request.headers[name] = value  # HTTPMessage appends: repeated names stay repeated
    added = []
    if spec['sign_body']:
        request.headers['X-Amz-Content-SHA256'] = auth.payload(request)
    with frozen_clock(spec['time']):
        auth.add_auth(request)
    if spec['session_token']:
        added.append(['X-Amz-Security-Token', request.headers['X-Amz-Security-Token']])
    added.append(['X-Amz-Date', request.headers['X-Amz-Date']])
    if spec['sign_body']:
        added.append(['x-amz-content-sha256', request.headers['X-Amz-Content-SHA256']])
    added.append(['Authorization', request.headers['Authorization']])
    authorization = request.headers['Authorization']
    return {
        'canonical_request': auth.recorded_canonical_request,
        'string_to_sign': auth.recorded_string_to_sign,
        'signature': authorization.rsplit('Signature=', 1)[1],
        'target': spec['target'],
        'headers': [list(header) for header in spec['headers']] + added,
    }


def run_tool(tool, specs):
    lines = []
    for spec in specs:
        line = {key: spec[key] for key in ('method', 'target', 'body', 'access_key_id',
                                           'secret_access_key', 'session_token', 'region',
                                           'service', 'time', 'sign_body')}
        line['headers'] = [list(header) for header in spec['headers']]
        lines.append(json.dumps(line))
    result = subprocess.run([tool], input='\n'.join(lines) + '\n', capture_output=True,
                            text=True, encoding='utf-8', timeout=300)
    if result.returncode != 0:
        sys.exit(f'{tool} failed ({result.returncode}): {result.stderr}')
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    if len(outputs) != len(specs):
        sys.exit(f'{tool} answered {len(outputs)} of {len(specs)} requests')
    return outputs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tool', required=True, help='the built sigv4_sign_tool')
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED)
    parser.add_argument('--count', type=int, default=DEFAULT_COUNT)
    parser.add_argument('--show', type=int, default=5, help='mismatches to print in full')
    args = parser.parse_args()

    print(f'botocore {botocore.__version__} from {botocore.__file__}, seed {args.seed}')
    rng = random.Random(args.seed)
    specs = [random_request(rng) for _ in range(args.count)]
    expected = [sign_with_botocore(spec) for spec in specs]
    actual = run_tool(args.tool, specs)

    mismatches = 0
    for index, (spec, want, got) in enumerate(zip(specs, expected, actual)):
        fields = [field for field in want if want[field] != got.get(field)]
        if not fields:
            continue
        mismatches += 1
        if mismatches <= args.show:
            print(f'--- request {index} differs in {", ".join(fields)}')
            print('request: ' + json.dumps({k: v for k, v in spec.items() if k != 'path'},
                                           ensure_ascii=False))
            for field in fields:
                print(f'{field}:\n  botocore: {want[field]!r}\n  layersift: {got.get(field)!r}')
    print(f'{args.count} requests, {mismatches} mismatches, seed {args.seed}')
    return 1 if mismatches else 0


if __name__ == '__main__':
    sys.exit(main())
