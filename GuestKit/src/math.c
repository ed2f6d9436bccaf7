/*
 * math.c - the few libm functions Embedded Swift's standard library calls
 * (Dictionary/Set size their hash tables with ceil()).
 */
#include <guestkit/guestkit.h>

/* |x| >= 2^52: every double that large is already an integer. */
#define TWO_POW_52 4503599627370496.0

double ceil(double x)
{
    if (x != x || x >= TWO_POW_52 || x <= -TWO_POW_52)
        return x;                       /* NaN, infinities, large values */
    double t = (double)(long long)x;    /* rounds toward zero */
    if (t < x)
        t += 1.0;
    if (t == 0.0 && x < 0.0)
        return -0.0;                    /* ceil(-0.5) is -0 */
    return t;
}

double floor(double x)
{
    if (x != x || x >= TWO_POW_52 || x <= -TWO_POW_52)
        return x;
    double t = (double)(long long)x;
    if (t > x)
        t -= 1.0;
    if (t == 0.0 && x < 0.0)
        return -0.0;                    /* floor(-0.0) is -0 */
    return t;
}
