/* augment.h: training-time image distortions (see augment.c). */
#ifndef MN_AUGMENT_H
#define MN_AUGMENT_H

#include "internal.h"

#define MN_AUGMENT_SIGMA 4.0f     /* smoothing of the elastic displacement field, in pixels */
#define MN_AUGMENT_MAX_RADIUS 16

bool mn_augment_enabled(const mn_train_params *params);

/* Floats of scratch space mn_augment_image needs for one rows x cols image. */
size_t mn_augment_scratch_floats(int rows, int cols);

/* dst = a random distortion of src (rows x cols) drawn from `seed`, as params->aug_* say.
 * `scratch` holds mn_augment_scratch_floats(rows, cols) floats. dst and src must not overlap. */
void mn_augment_image(uint8_t *dst, const uint8_t *src, int rows, int cols,
                      const mn_train_params *params, uint64_t seed, float *scratch);

#endif
