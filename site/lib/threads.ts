// Arranges a post's comments into threads: replies under their parent, oldest first at each level.

export interface ThreadComment {
  id: string;
  parent: string | null;
  date: string;
}

export interface ThreadNode<T extends ThreadComment> {
  comment: T;
  replies: ThreadNode<T>[];
}

function byDateThenId(a: ThreadComment, b: ThreadComment): number {
  return a.date.localeCompare(b.date) || a.id.localeCompare(b.id);
}

function markReachable<T extends ThreadComment>(node: ThreadNode<T>, reached: Set<string>): void {
  reached.add(node.comment.id);
  for (const reply of node.replies) markReachable(reply, reached);
}

/**
 * Nests comments under their parents. A reply whose parent is not in the list starts a thread of
 * its own, and so does a comment caught in a loop of parents. Every comment given therefore
 * appears exactly once.
 */
export function buildThreads<T extends ThreadComment>(comments: readonly T[]): ThreadNode<T>[] {
  const nodes = new Map<string, ThreadNode<T>>();
  for (const comment of [...comments].sort(byDateThenId)) {
    nodes.set(comment.id, { comment, replies: [] });
  }
  const roots: ThreadNode<T>[] = [];
  for (const node of nodes.values()) {
    const parentId = node.comment.parent;
    const parent = parentId === null ? undefined : nodes.get(parentId);
    if (parent === undefined || parent === node) roots.push(node);
    else parent.replies.push(node);
  }
  const reached = new Set<string>();
  for (const root of roots) markReachable(root, reached);
  for (const node of nodes.values()) {
    if (reached.has(node.comment.id)) continue;
    const parent = nodes.get(node.comment.parent ?? '');
    if (parent !== undefined) parent.replies = parent.replies.filter((reply) => reply !== node);
    roots.push(node);
    markReachable(node, reached);
  }
  return roots;
}
