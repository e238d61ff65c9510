// What one image definition file declares, once read and validated: its dependencies and
// image sources. Shared by the reader (imageDefinitionFile.ts) and the validator
// (imageDefinitionYaml.ts) so that neither imports the other.
export type Visibility = 'public' | 'private'
export const visibilities: readonly Visibility[] = ['public', 'private']

export interface ImageSourceSpec {
  name: string
  tags: string[]
  visibility: Visibility
  templateParameters: Record<string, string>
  /** Line of this entry in the file, for later errors (bad names after templating). */
  line: number
}

export interface DefinitionSpec {
  dependencies: { path: string; line: number }[]
  imageSources: ImageSourceSpec[]
}
