/* placeholder until health/ lands */
#include "ctl.h"
#include "node_internal.h"
int ctl_health_open(struct node *n)
{
	return 0;
}
void ctl_health_step(struct node *n)
{
}
void ctl_health_status_json(struct node *n, FILE *f)
{
}
bool ctl_health_critical_failing(struct node *n, const char **which)
{
	return false;
}
