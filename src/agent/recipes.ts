// The app recipes this install of hearth ships (`apps/*.json` beside its
// package.json), read and validated once at start, for the API to offer.
// A recipe that does not validate is left out with a warning, never offered.
// Must never: offer a recipe validateRecipe refused.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../model/errors.js';
import type { Logger } from '../model/logger.js';
import { validateRecipe, type AppRecipe } from '../model/app.js';

export interface RecipeShelf {
  list(): AppRecipe[];
  get(name: string): AppRecipe;
}

export async function loadRecipes(dir: string, log: Logger): Promise<RecipeShelf> {
  const recipes = new Map<string, AppRecipe>();
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  for (const file of files) {
    try {
      const recipe = validateRecipe(JSON.parse(await readFile(join(dir, file), 'utf8')) as unknown);
      recipes.set(recipe.name, recipe);
    } catch (err) {
      log.warn({ file, err: (err as Error).message }, 'a shipped app recipe does not validate; it is not offered');
    }
  }
  return {
    list: () => [...recipes.values()],
    get(name) {
      const r = recipes.get(name);
      if (r === undefined) throw new HearthError('recipe_not_found', `no app recipe ${JSON.stringify(name.slice(0, 80))}; shipped: ${[...recipes.keys()].join(', ') || 'none'}`);
      return r;
    },
  };
}
