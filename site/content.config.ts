import { defineCollection } from 'astro:content';
import { buildSettings } from './lib/build-settings.ts';
import { postsLoader } from './lib/content-loader.ts';

export const collections = {
  posts: defineCollection({ loader: postsLoader(buildSettings()) }),
};
