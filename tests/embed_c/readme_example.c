/* readme_example.c — the C embedding example of README.md, linked directly
 * against Sharpmax::sharpmax_host (no dlopen). Its body between the markers
 * is the README's snippet; keep the two the same. Prints the per-row loss
 * and gradient, and exits non-zero if the loss is not log Σ exp(x) − x[y]. */
#include <math.h>
#include <stdio.h>

#include <sharpmax_host.h>

int main(void) {
    /* README begin */
    float x[6] = {2, 1, 0.1f, 0.5f, 2.5f, 0.3f}, loss[2], grad[6]; /* N = 2 rows, C = 3 classes */
    int y[2] = {0, 1}, n = 2, c = 3, ignore = -100;
    float smoothing = 0, scale = 1, z_loss = 0, softcap = 0;
    SMdevice dev; SMcontext ctx; SMmodule mod; SMfunction f; SMdeviceptr dx, dy, dl, dg, ds, none = 0;
    smhost_cuInit(0); smhost_cuDeviceGet(&dev, 0); smhost_cuDevicePrimaryCtxRetain(&ctx, dev); smhost_cuCtxSetCurrent(ctx);
    smhost_cuModuleLoadDataEx(&mod, SMHOST_ALL_KERNELS_IMAGE, 0, NULL, NULL);  /* or cross_entropy.ptx's text */
    smhost_cuModuleGetFunction(&f, mod, "xent_fused_forward_backward_f32_row");
    smhost_cuMemAlloc_v2(&dx, sizeof x); smhost_cuMemAlloc_v2(&dy, sizeof y); smhost_cuMemAlloc_v2(&dl, sizeof loss);
    smhost_cuMemAlloc_v2(&dg, sizeof grad); smhost_cuMemAlloc_v2(&ds, 8); smhost_cuMemsetD8_v2(ds, 0, 8);
    smhost_cuMemcpyHtoD_v2(dx, x, sizeof x); smhost_cuMemcpyHtoD_v2(dy, y, sizeof y);
    void* args[] = {&dx, &n, &c, &c, &dy, &ignore, &smoothing, &dl, &none, &scale, &none, &dg, &c, &ds,
                    &z_loss, &softcap, &none, &none, &none};  /* z-loss, softcap, class weights: off */
    smhost_cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL);  /* one thread per row */
    smhost_cuMemcpyDtoH_v2(loss, dl, sizeof loss); smhost_cuMemcpyDtoH_v2(grad, dg, sizeof grad);
    /* README end */

    int bad = 0;
    for (int r = 0; r < n; ++r) {
        double s = 0;
        for (int k = 0; k < c; ++k) s += exp(x[r * c + k]);
        double want = log(s) - x[r * c + y[r]];
        printf("row %d  loss %.7f  want %.7f  grad %+.7f %+.7f %+.7f\n", r, (double)loss[r], want,
               (double)grad[r * c], (double)grad[r * c + 1], (double)grad[r * c + 2]);
        bad += !(fabs(loss[r] - want) <= 1e-6 * (1 + fabs(want)));
    }
    return bad ? 1 : 0;
}
