// The standard context sources in their order, wired to the index and the activity tracker.
import type { DocumentActivity } from './activity.js';
import type { FileTables } from './fileTables.js';
import type { WorkspaceIndex } from './index.js';
import { DefinitionsSource } from './sources/definitions.js';
import { EnclosingSource } from './sources/enclosing.js';
import { RecentEditsSource, type OpenText } from './sources/recentEdits.js';
import { SimilarSource } from './sources/similar.js';
import type { ContextSource } from './types.js';

export interface StandardSourceDeps {
  /** The workspace index, once there is one. */
  index: () => WorkspaceIndex | undefined;
  activity: DocumentActivity;
  /** Lines of an open document, for recent edits outside the current one. */
  openText: (uri: string) => OpenText | undefined;
  /** The documents' prepared imports and identifier counts; without it each request works them out. */
  tables?: FileTables;
}

export function standardSources(deps: StandardSourceDeps): ContextSource[] {
  return [new DefinitionsSource(deps.index, deps.tables), new EnclosingSource(deps.index), new RecentEditsSource(deps.activity, deps.openText), new SimilarSource(deps.activity)];
}
