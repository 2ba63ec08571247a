using BgpLb.Allocation.Client;

namespace BgpLb.Speaker.Addresses;

public static class AddressServices
{
    /// <summary>
    /// Registers the <see cref="IAddressSource"/>: the controller's allocations with --controller (its watcher runs as a
    /// hosted service), the Services' status in Kubernetes mode, otherwise the in-process allocator.
    /// </summary>
    public static IServiceCollection AddAddressSource(this IServiceCollection services, SpeakerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Controller is { } controller)
        {
            services.AddSingleton(sp => new AllocationWatcher(controller, sp.GetRequiredService<ILogger<AllocationWatcher>>(), sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton(sp => ActivatorUtilities.CreateInstance<ControllerAddresses>(sp, controller.Address));
            services.AddSingleton<IAddressSource>(sp => sp.GetRequiredService<ControllerAddresses>());
            services.AddHostedService(sp => sp.GetRequiredService<ControllerAddresses>());
        }
        else if (options.Kubernetes is not null)
        {
            services.AddSingleton<IAddressSource, StatusAddresses>();
        }
        else
        {
            services.AddSingleton<IAddressSource>(sp => new InProcessAddresses(sp.GetRequiredService<ILogger<InProcessAddresses>>(), options.Scope.LoadBalancerClass));
        }
        return services;
    }
}
