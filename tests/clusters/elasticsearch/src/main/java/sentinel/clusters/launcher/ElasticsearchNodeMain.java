package sentinel.clusters.launcher;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

/**
 * One Elasticsearch node in this JVM, built from the server jars on Maven Central.
 *
 * <p>The server runs on the module path as in a distribution; its modules (transport-netty4 and the
 * rest-root stand-in) are loaded from {@code path.home/modules}. Arguments are node settings as
 * {@code key=value} (a value with commas is a list). The node runs until its standard input closes
 * or it is signalled.
 */
public final class ElasticsearchNodeMain {
    private ElasticsearchNodeMain() {}

    public static void main(String[] args) throws Exception {
        Settings.Builder builder = Settings.builder();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            String key = arg.substring(0, eq);
            String value = arg.substring(eq + 1);
            if (value.contains(",")) {
                builder.putList(key, value.split(","));
            } else {
                builder.put(key, value);
            }
        }
        Settings settings = builder.build();
        LogConfigurator.registerErrorListener();
        Environment environment = new Environment(settings, Path.of(settings.get("path.home"), "config"));
        LogConfigurator.setNodeName(settings.get("node.name"));
        LogConfigurator.configure(environment, true); // log4j2.properties in the config directory, to the console

        var modules = PluginsLoader.loadModulesBundles(environment.modulesDir(), false);
        var loader = PluginsLoader.createPluginsLoader(modules, Set.of(), Map.of());
        Node node = new Node(environment, loader);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (IOException e) {
                e.printStackTrace();
            }
        }, "sentinel-node-close"));
        node.start();
        System.out.println("SENTINEL-NODE-STARTED " + settings.get("node.name"));
        System.out.flush();
        while (System.in.read() != -1) {
            // the test process keeps the pipe open while it wants the node
        }
        System.exit(0);
    }
}
