/**
 * The `compress` route key (any track):
 *
 * ```yaml
 * - { path: "/*", proxy: app, compress: { types: [text/html, application/json], min_length: 1KiB, level: { gzip: 6, br: 4 } } }
 * ```
 *
 * `types` absent: every type the `compressible` package (mime-db) marks compressible, except
 * `text/event-stream` (compressing buffers the events). `min_length`: bodies of a known length
 * below it go out as they are (nginx `gzip_min_length`). `encodings`: what is offered, in the
 * server's order of preference for equal client q-values.
 */
import { z } from 'zod';
import { size } from '../config/fields.js';

const mimeType = z
  .string()
  .regex(
    /^[a-z0-9!#$&^_.+-]+\/([a-z0-9!#$&^_.+-]+|\*)$/i,
    'expected a media type such as text/html or text/*',
  )
  .transform((t) => t.toLowerCase());

export const compressSchema = z.strictObject({
  types: z.array(mimeType).min(1).optional(),
  min_length: size.default(1024),
  level: z
    .strictObject({
      /** zlib level 1–9 (nginx gzip_comp_level); 6 is zlib's default */
      gzip: z.number().int().min(1).max(9).default(6),
      /** brotli quality 0–11; 4 keeps streaming cheap (11 is for precompressing files) */
      br: z.number().int().min(0).max(11).default(4),
    })
    .prefault({}),
  encodings: z
    .array(z.enum(['br', 'gzip']))
    .min(1)
    .default(['br', 'gzip']),
});

export type CompressConfig = z.output<typeof compressSchema>;
