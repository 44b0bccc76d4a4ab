// Validates every post and comment file in a content folder with the shared schema, so that a bad
// file fails a pull request's checks rather than a site build.
//
// Usage: npm run content:check [dir]     (dir defaults to ./content)
import { pathToFileURL } from 'node:url';
import { formatProblem, readContentTree, type ContentProblem } from './loader.ts';

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export interface ContentCheckResult {
  problems: ContentProblem[];
  /** Posts and comments that passed every check. */
  postCount: number;
  commentCount: number;
}

/** Checks every file under `dir`; paths in the problems start with `dir` as given. */
export async function checkContent(dir: string): Promise<ContentCheckResult> {
  const tree = await readContentTree(dir);
  return {
    problems: tree.problems,
    postCount: tree.posts.length,
    commentCount: tree.comments.length,
  };
}

/** Runs the check and prints its result; returns the process exit code. */
export async function runContentCheck(
  dir: string,
  output: { log: (line: string) => void; error: (line: string) => void },
): Promise<number> {
  const result = await checkContent(dir);
  for (const problem of result.problems) output.error(formatProblem(problem));
  if (result.problems.length > 0) {
    output.error(`content check failed: ${plural(result.problems.length, 'problem')} in ${dir}`);
    return 1;
  }
  const counts = `${plural(result.postCount, 'post')}, ${plural(result.commentCount, 'comment')}`;
  output.log(`content check passed: ${counts}`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runContentCheck(process.argv[2] ?? 'content', console);
}
