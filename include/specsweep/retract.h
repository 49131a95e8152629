/*
 * retract.h - telescopic retraction (the spectral-domain paper): after training, layers
 * joined by a linear activation are multiplied out into one equivalent layer, which
 * gives a compact network that computes the same function.
 *
 * Layer l (W_l, b_l) followed by layer l + 1 through the identity is the one affine map
 * x -> x (W_l W_{l+1}) + (b_l W_{l+1} + b_{l+1}); a chain of such layers is multiplied
 * out the same way, with the activation of its last layer. The weights are the effective
 * ones (w_ij = psi_ij (lambda_in_i - lambda_out_j) for spectral layers, W for dense ones),
 * multiplied in double and rounded to float once, so the compact network's outputs equal
 * the full one's up to float rounding (the test measures it).
 */
#ifndef SPECSWEEP_RETRACT_H
#define SPECSWEEP_RETRACT_H

#include <stdint.h>
#include "specsweep/config.h"
#include "specsweep/net.h"

/*
 * The compact network of the trained network `net` under `mode` (SS_RETRACT_LINEAR: every
 * chain of layers joined by linear activations; SS_RETRACT_ALL: the whole network into
 * one layer, which needs every hidden layer linear) into *compact, a dense network with
 * workspace for max_batch samples (free it with ss_net_destroy). Dropout is the identity
 * at inference and vanishes; batch-norm cannot be crossed. Returns 0, or -1 with err set
 * (SS_EXIT_INPUT: mode none or unknown, SS_RETRACT_ALL across a non-linear layer,
 * batch-norm; *compact is then zeroed).
 */
int ss_retract(const ss_net_t *net, ss_retract_t mode, int max_batch, ss_net_t *compact,
               ss_error_t *err);

/*
 * The histogram of layer 0's weights of `net` (for a compact network: the equivalent
 * direct-space weights of the inputs): counts[bins] over `bins` equal bins of
 * [-range, range], edges[bins + 1] their edges. A weight equal to range falls in the last
 * bin; weights outside [-range, range] (and NaN) are not counted, so the counts then sum
 * to fewer than n_in x n_out.
 */
void ss_retract_histogram(const ss_net_t *net, int bins, double range, int64_t *counts,
                          double *edges);

#endif
