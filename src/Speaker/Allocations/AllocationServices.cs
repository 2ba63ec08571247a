using BgpLb.Allocation.Client;

namespace BgpLb.Speaker.Allocations;

public static class AllocationServices
{
    /// <summary>
    /// Registers the <see cref="IAllocationSource"/>: the controller's allocations when <paramref name="controller"/> is
    /// set (its watcher runs as a hosted service), otherwise the in-process allocator.
    /// </summary>
    public static IServiceCollection AddAllocationSource(this IServiceCollection services, Uri? controller)
    {
        if (controller is null)
        {
            services.AddSingleton<IAllocationSource, InProcessAllocations>();
            return services;
        }
        services.AddSingleton(sp => new AllocationWatcher(controller, sp.GetRequiredService<ILogger<AllocationWatcher>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<ControllerAllocations>(sp, controller));
        services.AddSingleton<IAllocationSource>(sp => sp.GetRequiredService<ControllerAllocations>());
        services.AddHostedService(sp => sp.GetRequiredService<ControllerAllocations>());
        return services;
    }
}
