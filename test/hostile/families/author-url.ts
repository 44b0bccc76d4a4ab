// Website addresses for the author's name link: other schemes, disguised schemes, addresses that
// are not absolute, and odd but valid http(s) addresses that must stay inert in the link.
import { invalid, type Expected, type HostileCase } from '../hostile-case.ts';

const REJECTED: Array<[name: string, url: string]> = [
  ['javascript', 'javascript:alert(1)'],
  ['javascript-mixed-case', 'JaVaScRiPt:alert(1)'],
  ['javascript-leading-spaces', '   javascript:alert(1)'],
  ['javascript-leading-control', '\u0001javascript:alert(1)'],
  ['javascript-tab', 'java\tscript:alert(1)'],
  ['javascript-newline', 'java\nscript:alert(1)'],
  ['javascript-slashes', 'javascript://example.org/%0aalert(1)'],
  ['javascript-entity', 'javascript&colon;alert(1)'],
  ['vbscript', 'vbscript:msgbox(1)'],
  ['data-html', 'data:text/html,<script>alert(1)</script>'],
  ['data-base64', 'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='],
  ['file', 'file:///etc/passwd'],
  ['ftp', 'ftp://example.org/'],
  ['mailto', 'mailto:ada@example.org'],
  ['blob', 'blob:https://example.org/uuid'],
  ['protocol-relative', '//evil.example/'],
  ['path-only', '/relative/path'],
  ['bare-host', 'example.org'],
  ['scheme-only', 'https://'],
  ['space-in-host', 'https://exa mple.org/'],
  ['unclosed-ipv6', 'http://[::1/'],
  ['bad-port', 'https://example.org:99999/'],
];

const CONTROL_INSIDE: Array<[name: string, url: string]> = [
  ['tab-in-host', 'https://exa\tmple.org/'],
  ['newline-in-path', 'https://example.org/\nSet-Cookie: a=1'],
  ['nul-in-path', 'https://example.org/\u0000x'],
];

const ACCEPTED: Array<[name: string, url: string]> = [
  ['https', 'https://example.org/'],
  ['upper-case', 'HTTPS://EXAMPLE.ORG/PATH'],
  ['quote-breakout', 'https://example.org/"onmouseover="alert(1)'],
  ['tag-breakout', "https://example.org/'><script>alert(1)</script>"],
  ['script-in-query', 'https://example.org/?q=<script>alert(1)</script>'],
  ['javascript-in-fragment', 'https://example.org/#javascript:alert(1)'],
  ['credentials', 'https://user:pass@example.org/'],
  ['backslash-at', 'https://example.org\\@evil.example/'],
  ['unicode-host', 'https://例え.jp/'],
  ['punycode-host', 'https://xn--r8jz45g.jp/'],
  ['fullwidth-host', 'http://ｅｘａｍｐｌｅ.org/'],
  ['bidi-in-path', 'https://example.org/\u202egnp.exe'],
  ['scheme-without-slashes', 'http:evil.example'],
  ['https-without-slashes', 'https:evil.example'],
  ['loopback', 'http://127.0.0.1:22/'],
  ['trailing-space', 'https://example.org/ '],
  ['percent-encoded', 'https://example.org/%3Cscript%3E'],
];

export function authorUrlCases(): HostileCase[] {
  const row = (name: string, authorUrl: string, expected: Expected, knownBug?: string) => ({
    id: `author-url/${name}`,
    kind: 'author-url' as const,
    fields: { authorUrl },
    expected,
    ...(knownBug === undefined ? {} : { knownBug }),
  });
  return [
    ...REJECTED.map(([name, url]) => row(name, url, invalid('authorUrl'))),
    ...CONTROL_INSIDE.map(([name, url]) => row(name, url, invalid('authorUrl'))),
    ...ACCEPTED.map(([name, url]) => row(name, url, 'stored-inert')),
  ];
}
